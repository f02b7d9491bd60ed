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
/// Reads and inserts rows of an entity in a raw batch — one sent in the round trip that takes a run's lock, where EF Core
/// cannot take part — by EF Core's model of it: the columns, their order and their value conversions all come from the
/// entity's configuration, so the configuration stays the one mapping and a column added to the entity is written here too.
/// </summary>
public sealed class EntityRows<T>
    where T : class
{
    private static readonly MethodInfo GetFieldValue = typeof(DbDataReader).GetMethod(nameof(DbDataReader.GetFieldValue))!;
    private static readonly MethodInfo IsDbNull = typeof(DbDataReader).GetMethod(nameof(DbDataReader.IsDBNull))!;

    private readonly Func<DbDataReader, T> _read;
    private readonly List<(IProperty Property, bool Jsonb)> _inserted;
    private readonly string _insert;
    private readonly string _insertMany;

    internal EntityRows(IModel model)
    {
        var entity = model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model.");
        var properties = entity.GetProperties().Where(p => p.PropertyInfo is not null).ToList();
        Table = entity.GetTableName()!;
        ColumnNames = [.. properties.Select(Quoted)];
        Columns = string.Join(", ", ColumnNames);

        // Every column but a key the database generates, in statement texts built once. A column with a default of the
        // database's (runs.chain) is written with the row's value, as EF Core writes one the row sets.
        _inserted = [.. properties.Where(p => !(p.IsPrimaryKey() && p.ValueGenerated == ValueGenerated.OnAdd)).Select(p => (p, p.GetColumnType() == "jsonb"))];
        var inserted = string.Join(", ", _inserted.Select(c => Quoted(c.Property)));
        var parameters = string.Join(", ", _inserted.Select((_, i) => $"${i + 1}"));
        _insert = $"INSERT INTO {Table} ({inserted}) VALUES ({parameters})";
        _insertMany = $"INSERT INTO {Table} ({inserted}) SELECT {string.Join(", ", _inserted.Select(c => "d." + Quoted(c.Property)))} " +
            $"FROM unnest({parameters}) WITH ORDINALITY AS d({inserted}, n)";
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
    /// An <c>INSERT</c> of <paramref name="row"/> — every column but a key the database generates — with positional
    /// parameters converted as EF Core converts them, returning <paramref name="returning"/> when given.
    /// </summary>
    public (string Sql, object?[] Values) Insert(T row, string? returning = null) =>
        (returning is null ? _insert : $"{_insert} RETURNING {returning}", [.. _inserted.Select(c => Parameter(c.Property, c.Jsonb, c.Property.PropertyInfo!.GetValue(row)))]);

    /// <summary>
    /// One <c>INSERT</c> of <paramref name="rows"/>, in their order, from one array a column: only the rows for which
    /// <paramref name="where"/> holds (SQL over the columns of the row <c>d</c>, e.g. <c>d."run_id"</c>), returning
    /// <paramref name="returning"/>.
    /// </summary>
    public (string Sql, object?[] Values) InsertMany(IReadOnlyList<T> rows, string where, string returning) =>
        ($"{_insertMany} WHERE {where} ORDER BY d.n RETURNING {returning}", [.. _inserted.Select(c => Parameters(c.Property, c.Jsonb, rows))]);

    /// <summary>The entity of the reader's current row, selected with <see cref="Columns"/>.</summary>
    public T Read(DbDataReader reader) => _read(reader);

    private static string Quoted(IProperty property) => $"\"{property.GetColumnName()}\"";

    private static NpgsqlParameter Parameter(IProperty property, bool jsonb, object? value)
    {
        var parameter = new NpgsqlParameter { Value = Stored(property, value) ?? DBNull.Value };
        if (jsonb)
        {
            parameter.NpgsqlDbType = NpgsqlDbType.Jsonb;
        }

        return parameter;
    }

    // One column of every row, as one array parameter.
    private static NpgsqlParameter Parameters(IProperty property, bool jsonb, IReadOnlyList<T> rows)
    {
        var values = Array.CreateInstance(property.GetTypeMapping().Converter?.ProviderClrType ?? property.ClrType, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            values.SetValue(Stored(property, property.PropertyInfo!.GetValue(rows[i])), i);
        }

        var parameter = new NpgsqlParameter { Value = values };
        if (jsonb)
        {
            parameter.NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb;
        }

        return parameter;
    }

    // A property's value as the database stores it: through the property's value converter, when it has one.
    private static object? Stored(IProperty property, object? value) =>
        value is null || property.GetTypeMapping().Converter is not { } converter ? value : converter.ConvertToProvider(value);

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
