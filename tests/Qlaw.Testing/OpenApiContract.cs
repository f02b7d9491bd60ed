using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Qlaw.Testing;

/// <summary>
/// The OpenAPI document a server serves, as a contract its live answers are checked against: every answer's status code
/// and content type must be described for its route, and a JSON body must be valid against the described schema
/// (JsonSchema.Net, the document's components resolving the <c>$ref</c>s).
/// </summary>
public sealed class OpenApiContract
{
    private static readonly Uri DocumentUri = new("https://qlaw.test/openapi/v1.json");
    private readonly JsonElement _document;
    private readonly BuildOptions _build;

    private OpenApiContract(JsonElement document)
    {
        _document = document;
        _build = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
        _build.SchemaRegistry.Register(DocumentUri, new JsonElementBaseDocument(document, DocumentUri));
    }

    /// <summary>The routes the document describes and the answers it says each can give, checked so far.</summary>
    public HashSet<string> Checked { get; } = [];

    /// <summary>Every route and method of the document, as <c>POST /v1/runs/{id}/cancel</c>.</summary>
    public IEnumerable<string> Routes =>
        _document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(method => $"{method.Name.ToUpperInvariant()} {path.Name}"));

    public static async Task<OpenApiContract> LoadAsync(HttpClient http)
    {
        var document = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!;
        WithoutDiscriminators(document);
        return new(JsonSerializer.SerializeToElement(document));
    }

    // OpenAPI's discriminator is a hint to code generators, not a JSON Schema keyword (the schema's anyOf says the same).
    private static void WithoutDiscriminators(System.Text.Json.Nodes.JsonNode? node)
    {
        if (node is System.Text.Json.Nodes.JsonObject schema)
        {
            schema.Remove("discriminator");
            foreach (var (_, child) in schema.ToList())
            {
                WithoutDiscriminators(child);
            }
        }
        else if (node is System.Text.Json.Nodes.JsonArray items)
        {
            foreach (var child in items)
            {
                WithoutDiscriminators(child);
            }
        }
    }

    /// <summary>Asserts that the document describes <paramref name="response"/> for <paramref name="route"/> (<c>GET /v1/runs/{id}/status</c>).</summary>
    public async Task<string> AssertDescribesAsync(string route, HttpResponseMessage response)
    {
        var (method, template) = (route[..route.IndexOf(' ', StringComparison.Ordinal)].ToLowerInvariant(), route[(route.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        var body = await response.Content.ReadAsStringAsync();
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var operation = _document.GetProperty("paths").TryGetProperty(template, out var path) && path.TryGetProperty(method, out var found) ? found : default;
        Assert.True(operation.ValueKind == JsonValueKind.Object, $"{route} is not in the document.");
        Assert.True(operation.GetProperty("responses").TryGetProperty(status, out var described), $"{route} answered {status}, which the document does not describe: {body}");
        Checked.Add($"{route} {status}");

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (response.StatusCode == HttpStatusCode.NoContent || body.Length == 0)
        {
            Assert.True(mediaType is null || !described.TryGetProperty("content", out _), $"{route} {status}: the document describes a body, none came.");
            return body;
        }

        var media = described.TryGetProperty("content", out var content) && content.TryGetProperty(mediaType!, out var given) ? given : default;
        Assert.True(media.ValueKind == JsonValueKind.Object, $"{route} {status} answered {mediaType}, which the document does not describe.");
        if (mediaType is "application/json" or "application/problem+json" && media.TryGetProperty("schema", out _))
        {
            // The described schema, where it stands in the document, so that its $refs resolve against the document.
            var pointer = $"#/paths/{Escape(template)}/{method}/responses/{status}/content/{Escape(mediaType!)}/schema";
            var check = JsonSchema.FromText($$"""{"$ref": "{{DocumentUri}}{{pointer}}"}""", _build, new Uri($"https://qlaw.test/checks/{Guid.NewGuid():N}"));
            var results = check.Evaluate(JsonDocument.Parse(body).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(results.IsValid, $"{route} {status}: the body does not match the document's schema: {Describe(results)}\n{body}");
        }

        return body;
    }

    /// <summary>Sends a request to <paramref name="url"/> as <paramref name="route"/> and asserts the document describes the answer.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Json)> SendAsync(HttpClient http, string route, string url, JsonNode? body = null, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(route[..route.IndexOf(' ', StringComparison.Ordinal)]), url);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request);
        var text = await AssertDescribesAsync(route, response);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType is "application/json" or "application/problem+json" && text.Length > 0 ? JsonNode.Parse(text) : null);
    }

    private static string Escape(string token) => Uri.EscapeDataString(token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));

    private static string Describe(EvaluationResults results) =>
        string.Join("; ", (results.Details ?? []).Where(d => d.Errors is { Count: > 0 }).Select(d => $"{d.InstanceLocation}: {string.Join(", ", d.Errors!.Values)}"));
}
