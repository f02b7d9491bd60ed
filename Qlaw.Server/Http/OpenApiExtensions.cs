using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Qlaw.Api.Streaming;

namespace Qlaw.Server.Http;

/// <summary>The OpenAPI document at /openapi/v1.json (browsable at /scalar), with what the endpoints' metadata cannot say.</summary>
public static class OpenApiExtensions
{
    public static IServiceCollection AddQlawOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddOperationTransformer(DescribeEventStream));

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
