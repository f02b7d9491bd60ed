using System.Text.Json;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Validation;

namespace Qlaw.Core.Tests;

public sealed class WorkflowValidationTests
{
    private static readonly WorkflowDefinition Valid = new()
    {
        Name = "review",
        StartAgent = "planner",
        Agents =
        [
            new() { Name = "planner", Role = AgentRole.Planner, Handoffs = ["coder"], DefaultNext = "coder" },
            new() { Name = "coder", Role = AgentRole.Coder, Consults = ["judge"] },
            new() { Name = "judge", Role = AgentRole.Judge },
        ],
        Limits = new() { MaxSteps = 10, MaxReturns = 2 },
        Retry = new() { MaxAttempts = 3, FirstIntervalMs = 100, BackoffCoefficient = 2, MaxIntervalMs = 1000 },
    };

    [Fact]
    public void A_complete_workflow_has_no_errors() => Assert.Empty(ContractValidator.Validate(Valid));

    [Fact]
    public void Nested_errors_are_named_by_their_snake_case_json_path()
    {
        var invalid = Valid with
        {
            Agents = [Valid.Agents[0] with { Model = new() { MaxOutputTokens = 0 } }, .. Valid.Agents.Skip(1)],
            Retry = Valid.Retry! with { BackoffCoefficient = 0.5 },
        };

        var errors = ContractValidator.Validate(invalid);

        Assert.Equal(["agents[0].model.max_output_tokens", "retry.backoff_coefficient"], errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_name_that_looks_like_an_id_is_refused_so_lookups_by_id_or_name_stay_unambiguous()
    {
        var errors = ContractValidator.Validate(Valid with { Name = Guid.NewGuid().ToString() });

        Assert.Equal(["name"], errors.Keys);
    }

    [Fact]
    public void An_agent_cannot_name_itself_as_a_target()
    {
        var errors = ContractValidator.Validate(Valid with
        {
            Agents = [Valid.Agents[0] with { Handoffs = ["planner"] }, .. Valid.Agents.Skip(1)],
        });

        Assert.Equal(["agents[0].handoffs[0]"], errors.Keys);
    }

    [Fact]
    public void Text_postgresql_cannot_store_is_named_by_its_path_in_a_record_and_in_free_form_json()
    {
        var errors = ContractValidator.Validate(Valid with { Agents = [Valid.Agents[0] with { Handoffs = ["coder", "a\0"] }, .. Valid.Agents.Skip(1)] });
        var metadata = JsonDocument.Parse("""{"ok":"é","a":{"b":["x","\ud800"]},"c":"x\u0000","d\u0000":1}""").RootElement;

        Assert.Contains("agents[0].handoffs[1]", errors.Keys);
        Assert.Equal(["metadata", "metadata.a.b[1]", "metadata.c"], ContractValidator.Validate(metadata, "metadata").Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["body"], ContractValidator.Validate(JsonDocument.Parse("\"\\udc00\"").RootElement).Keys);
    }

    [Fact]
    public void System_text_json_refuses_unpaired_surrogates_and_invalid_utf8_before_a_record_is_validated()
    {
        byte[] invalidUtf8 = [.. "{\"input\":\""u8, 0xFF, .. "\"}"u8];

        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<StartRunRequest>("""{"input":"\ud800"}""", QlawJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<StartRunRequest>(invalidUtf8, QlawJson.Options));
    }

    [Theory]
    [InlineData(RunStatus.AwaitingInput, "awaiting_input")]
    [InlineData(RunStatus.Queued, "queued")]
    public void Enums_have_readable_snake_case_wire_names_that_round_trip(RunStatus status, string name)
    {
        Assert.Equal(name, QlawJson.EnumName(status));
        Assert.Equal(status, QlawJson.ParseEnum<RunStatus>(name));
    }
}
