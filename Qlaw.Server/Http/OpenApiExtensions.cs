using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Qlaw.Api.Streaming;

namespace Qlaw.Server.Http;

/// <summary>The OpenAPI document at /openapi/v1.json (browsable at /scalar), with what the endpoints' metadata cannot say.</summary>
public static class OpenApiExtensions
{
    public static IServiceCollection AddQlawOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options
            .AddOperationTransformer(DescribeEventStream)
            .AddOperationTransformer(DescribeEveryOkBody)
            .AddSchemaTransformer(NullsAreLeftOut));

    // A handler that answers 200 with one of several bodies (Results<Ok<A>, Ok<B>, …>): the document says one of them.
    private static async Task DescribeEveryOkBody(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var returned = context.Description.ActionDescriptor.EndpointMetadata.OfType<MethodInfo>().FirstOrDefault()?.ReturnType;
        returned = returned is { IsGenericType: true } task && task.GetGenericTypeDefinition() == typeof(Task<>) ? task.GenericTypeArguments[0] : returned;
        var bodies = (returned?.GenericTypeArguments ?? [])
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Ok<>)).Select(t => t.GenericTypeArguments[0]).ToList();
        if (bodies.Count < 2 || operation.Responses?.TryGetValue("200", out var ok) != true || ok is not OpenApiResponse { Content: { } content })
        {
            return;
        }

        var oneOf = new List<IOpenApiSchema>();
        foreach (var body in bodies)
        {
            oneOf.Add(await context.GetOrCreateSchemaAsync(body, cancellationToken: cancellationToken));
        }

        content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchema { OneOf = oneOf } };
    }

    // Qlaw's JSON leaves null values out (QlawJson): a property that can be null is absent then, so it is not required —
    // unless the type always writes it ([JsonIgnore(Condition = Never)], as OpenAI's response object has its nulls).
    private static Task NullsAreLeftOut(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is null && schema.Required is { Count: > 0 } required)
        {
            foreach (var property in context.JsonTypeInfo.Properties.Where(p => p.IsGetNullable && !AlwaysWritten(p)))
            {
                required.Remove(property.Name);
            }
        }

        return Task.CompletedTask;
    }

    private static bool AlwaysWritten(JsonPropertyInfo property) =>
        property.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), inherit: true)
            .Any(a => ((JsonIgnoreAttribute)a).Condition == JsonIgnoreCondition.Never) == true;

    // A route marked EventStreamResponse answers 200 with text/event-stream too, beside any JSON body.
    private static Task DescribeEventStream(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<EventStreamResponse>().FirstOrDefault() is { } stream)
        {
            operation.Responses ??= [];
            if (!operation.Responses.TryGetValue("200", out var ok))
            {
                operation.Responses["200"] = ok = new OpenApiResponse { Description = "OK" };
            }

            if (ok is OpenApiResponse response)
            {
                response.Content ??= new Dictionary<string, OpenApiMediaType>();
                response.Content["text/event-stream"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = stream.Description } };
            }
        }

        return Task.CompletedTask;
    }
}
