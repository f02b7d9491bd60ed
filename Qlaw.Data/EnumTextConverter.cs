using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Qlaw.Contracts;

namespace Qlaw.Data;

/// <summary>Stores an enum as its readable wire name (<c>awaiting_input</c>), the same text clients see.</summary>
internal sealed class EnumTextConverter<TEnum>() : ValueConverter<TEnum, string>(
    value => QlawJson.EnumName(value),
    text => QlawJson.ParseEnum<TEnum>(text))
    where TEnum : struct, Enum;
