using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Qlaw.Api.Http;

/// <summary>
/// The one place error bodies are written: <c>application/problem+json</c> with type, title, status, detail, traceId
/// (and <c>errors</c> for validation), whatever the request's <c>Accept</c> says — an SSE client asking for
/// <c>text/event-stream</c> gets the same document before any stream byte. It also carries the same words as OpenAI's
/// <c>error</c> object (message, type, param), which the OpenAI SDKs read to tell their users what went wrong.
/// </summary>
internal sealed class ProblemWriter(IOptions<ProblemDetailsOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json) : IProblemDetailsWriter
{
    // Extension keys are written as given (traceId, run_status); values follow the API's conventions.
    private readonly JsonSerializerOptions _serializer = new(json.Value.SerializerOptions) { PropertyNamingPolicy = null };

    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        problem.Type ??= TypeOf(problem.Status.Value);
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? http.TraceIdentifier);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        problem.Extensions.TryAdd("error", OpenAIError(problem));
        http.Response.ContentType = "application/problem+json";
        var type = problem is HttpValidationProblemDetails ? typeof(HttpValidationProblemDetails) : typeof(ProblemDetails);
        return new ValueTask(JsonSerializer.SerializeAsync(http.Response.Body, problem, type, _serializer, http.RequestAborted));
    }

    private static OpenAIErrorBody OpenAIError(ProblemDetails problem)
    {
        var errors = (problem as HttpValidationProblemDetails)?.Errors
            ?? (problem.Extensions.TryGetValue("errors", out var named) ? named as IDictionary<string, string[]> : null);
        var field = errors?.FirstOrDefault();
        var message = problem.Detail ?? (field is { Key: { } key, Value: [var first, ..] } ? $"{key}: {first}" : problem.Title!);
        var type = problem.Status switch
        {
            StatusCodes.Status429TooManyRequests => "rate_limit_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        return new(message, type, field?.Key);
    }

    // Named explicitly: the problem's extensions are written without a naming policy.
    private sealed record OpenAIErrorBody(
        [property: JsonPropertyName("message")] string Message,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("param")] string? Param);

    private static string TypeOf(int status) => status switch
    {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        422 => "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        >= 500 => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        _ => "about:blank",
    };
}
