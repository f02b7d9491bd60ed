using System.Collections.Concurrent;
using System.Data.Common;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using NpgsqlTypes;

namespace Qlaw.Data;

/// <summary>
/// Reads rows of an entity from a raw batch — one sent in the round trip that takes a run's lock, where EF Core cannot
/// take part — by EF Core's model of it: the columns, their order and their value conversions all come from the
/// entity's configuration, so the configuration stays the one mapping and a column added to the entity is read here too.
/// </summary>
public sealed class EntityRows<T>
    where T : class
{
    private static readonly MethodInfo GetFieldValue = typeof(DbDataReader).GetMethod(nameof(DbDataReader.GetFieldValue))!;
    private static readonly MethodInfo IsDbNull = typeof(DbDataReader).GetMethod(nameof(DbDataReader.IsDBNull))!;

    private readonly Func<DbDataReader, T> _read;
    private readonly List<(IProperty Property, bool Jsonb)> _inserted;
    private readonly string _insert;

    internal EntityRows(IModel model)
    {
        var entity = model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model.");
        var properties = entity.GetProperties().Where(p => p.PropertyInfo is not null).ToList();
        Table = entity.GetTableName()!;
        ColumnNames = [.. properties.Select(Quoted)];
        Columns = string.Join(", ", ColumnNames);

        // Every column but one the database generates, in one statement text built once.
        _inserted = [.. properties.Where(p => p.ValueGenerated != ValueGenerated.OnAdd).Select(p => (p, p.GetColumnType() == "jsonb"))];
        _insert = $"INSERT INTO {Table} ({string.Join(", ", _inserted.Select(c => Quoted(c.Property)))}) " +
            $"VALUES ({string.Join(", ", _inserted.Select((_, i) => $"${i + 1}"))}) RETURNING ";
        var reader = Expression.Parameter(typeof(DbDataReader), "reader");
        var row = Expression.MemberInit(
            Expression.New(typeof(T)),
            properties.Select((p, ordinal) => Expression.Bind(p.PropertyInfo!, Column(reader, ordinal, p))));
        _read = Expression.Lambda<Func<DbDataReader, T>>(row, reader).Compile();
    }

    /// <summary>The entity's table.</summary>
    public string Table { get; }

    /// <summary>The entity's columns in the order <see cref="Read"/> expects them, quoted, for a <c>SELECT</c> list.</summary>
    public string Columns { get; }

    /// <summary>The names in <see cref="Columns"/>, each quoted.</summary>
    public IReadOnlyList<string> ColumnNames { get; }

    /// <summary>
    /// An <c>INSERT</c> of <paramref name="row"/> — every column but one the database generates — with positional
    /// parameters converted as EF Core converts them, returning <paramref name="returning"/>.
    /// </summary>
    public (string Sql, object?[] Values) Insert(T row, string returning) =>
        (_insert + returning, [.. _inserted.Select(c => Parameter(c.Property, c.Jsonb, c.Property.PropertyInfo!.GetValue(row)))]);

    /// <summary>The entity of the reader's current row, selected with <see cref="Columns"/>.</summary>
    public T Read(DbDataReader reader) => _read(reader);

    private static string Quoted(IProperty property) => $"\"{property.GetColumnName()}\"";

    private static NpgsqlParameter Parameter(IProperty property, bool jsonb, object? value)
    {
        var converter = property.GetTypeMapping().Converter;
        var stored = value is null || converter is null ? value : converter.ConvertToProvider(value);
        var parameter = new NpgsqlParameter { Value = stored ?? DBNull.Value };
        if (jsonb)
        {
            parameter.NpgsqlDbType = NpgsqlDbType.Jsonb;
        }

        return parameter;
    }

    // One column as the property's type: read as the provider's type, converted by the property's value converter.
    private static Expression Column(ParameterExpression reader, int ordinal, IProperty property)
    {
        var converter = property.GetTypeMapping().Converter;
        var stored = converter?.ProviderClrType ?? property.ClrType;
        Expression value = Expression.Call(reader, GetFieldValue.MakeGenericMethod(Nullable.GetUnderlyingType(stored) ?? stored), Expression.Constant(ordinal));
        if (converter is not null)
        {
            value = Expression.Invoke(converter.ConvertFromProviderExpression, value);
        }

        value = Expression.Convert(value, property.ClrType);
        return property.IsNullable
            ? Expression.Condition(Expression.Call(reader, IsDbNull, Expression.Constant(ordinal)), Expression.Default(property.ClrType), value)
            : value;
    }
}

/// <summary>The row readers of a model's entities, each built once.</summary>
public static class EntityRows
{
    private static readonly ConditionalWeakTable<IModel, ConcurrentDictionary<Type, object>> Readers = [];

    /// <summary>The reader of <typeparamref name="T"/>'s rows by <paramref name="model"/>.</summary>
    public static EntityRows<T> Of<T>(IModel model)
        where T : class =>
        (EntityRows<T>)Readers.GetValue(model, _ => new()).GetOrAdd(typeof(T), _ => new EntityRows<T>(model));
}
