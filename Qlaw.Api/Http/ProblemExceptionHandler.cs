using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Qlaw.Core.Database;

namespace Qlaw.Api.Http;

/// <summary>
/// Turns every exception into problem+json: unreadable requests into a 4xx naming the bad field, PostgreSQL out of
/// reach into a 503 with <c>Retry-After</c> (nothing was accepted; the client retries), anything else into a generic 500. Details stay in the log; no message, type name or stack trace reaches the client. Qlaw.Server runs it
/// as ASP.NET Core's exception handler; Qlaw.Functions calls it around every HTTP trigger.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        if (exception is BadHttpRequestException bad)
        {
            LogBadRequest(logger, bad.StatusCode, httpContext.TraceIdentifier, exception);
            problem = Describe(bad);
        }
        else if (DatabaseOutage.IsOutage(exception))
        {
            LogDatabaseUnavailable(logger, httpContext.TraceIdentifier, exception);
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The service is briefly unavailable.",
                Detail = "Its database cannot be reached; nothing was changed. Retry shortly.",
            };
        }
        else
        {
            LogUnhandled(logger, httpContext.TraceIdentifier, exception);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "An unexpected error occurred.",
                Detail = "The error has been logged; quote the traceId when reporting it.",
            };
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem });
    }

    private const string RetryAfterSeconds = "2";

    private static ProblemDetails Describe(BadHttpRequestException bad)
    {
        // Titles and details of these come from ApiExtensions' customization, as for the bare status codes Kestrel
        // and minimal APIs answer with.
        if (bad.StatusCode is StatusCodes.Status413PayloadTooLarge or StatusCodes.Status415UnsupportedMediaType)
        {
            return new ProblemDetails { Status = bad.StatusCode };
        }

        // A query or header value that does not convert: 'Failed to bind parameter "int? limit" from "abc".'
        if (BindFailure().Match(bad.Message) is { Success: true } bind)
        {
            return new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [JsonNamingPolicy.SnakeCaseLower.ConvertName(bind.Groups[1].Value)] = [$"'{bind.Groups[2].Value}' is not a valid value."],
            })
            {
                Status = bad.StatusCode,
                Title = "The request is not valid.",
            };
        }

        var json = bad.InnerException as JsonException;
        var field = json?.Path is { Length: > 1 } path ? path.TrimStart('$').TrimStart('.') : "body";
        var message = json switch
        {
            null => "The request body is missing or unreadable.",
            { LineNumber: { } line, BytePositionInLine: { } position } =>
                $"The value is not valid JSON of the expected type (line {line + 1}, position {position + 1}).",
            _ => "The value is not valid JSON of the expected type.",
        };
        return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = bad.StatusCode,
            Title = "The request is not valid.",
        };
    }

    [GeneratedRegex("^Failed to bind parameter \"[^\" ]+ ([A-Za-z0-9_]+)\" from \"(.*)\"\\.$")]
    private static partial Regex BindFailure();

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected request with {Status} (trace {TraceId})")]
    private static partial void LogBadRequest(ILogger logger, int status, string traceId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answered 503: the database is unreachable (trace {TraceId})")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string traceId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception (trace {TraceId})")]
    private static partial void LogUnhandled(ILogger logger, string traceId, Exception exception);
}
