using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>The run log's raw reads of step rows and EF Core read the same row the same way: one mapping, the model's.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class StepRowsTests(QlawStackFixture stack) : OwnServerTests(stack)
{
    [Fact]
    public async Task A_step_row_read_by_the_models_columns_equals_the_row_EF_Core_reads()
    {
        await Runs.CreateWorkflowAsync(Samples.Workflow());
        var runId = await Runs.StartAsync("code-review");
        await Runs.WaitForAsync(runId, "completed");
        await using var db = App.CreateDbContext();
        var expected = await db.Steps.AsNoTracking().Where(s => s.RunId == Guid.Parse(runId)).OrderBy(s => s.Id).ToListAsync();

        var rows = EntityRows.Of<StepEntity>(db.Model);
        var read = new List<StepEntity>();
        await using (var connection = new NpgsqlConnection(db.Database.GetConnectionString()))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"SELECT {rows.Columns} FROM steps WHERE run_id = $1 ORDER BY id", connection) { Parameters = { new() { Value = Guid.Parse(runId) } } };
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                read.Add(rows.Read(reader));
            }
        }

        Assert.NotEmpty(expected);
        Assert.All(expected, s => Assert.NotNull(s.Decision));
        Assert.Equal(JsonSerializer.Serialize(expected), JsonSerializer.Serialize(read));
        Assert.Contains("\"waiting\"", rows.Columns, StringComparison.Ordinal);
    }
}
