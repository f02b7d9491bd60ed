using System.Net;
using Microsoft.AspNetCore.Http;
using Qlaw.Api.Http;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Limits that are the service's, not one instance's: two servers on one database and one Redis share a client's
/// request budget and stream cap; one server holds no more streams than its own cap; a client is an IPv6 /64.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class SharedLimitsTests(QlawStackFixture stack, RedisFixture redis) : IClassFixture<RedisFixture>
{
    // Each test has its own key space on the shared Redis.
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";

    [Fact]
    public async Task Two_servers_share_a_clients_request_budget()
    {
        var settings = Shared(("RateLimits:Requests:Burst", "5"), ("RateLimits:Requests:PermitsPerSecond", "1"));
        await using var first = await QlawApplication.StartAsync(stack, settings);
        await using var second = await QlawApplication.StartAsync(stack, settings, database: first.PostgresConnectionString);
        var (a, b) = (first.CreateClient(), second.CreateClient());

        var answers = new List<HttpStatusCode>();
        foreach (var http in (HttpClient[])[a, a, a, b, b, b])
        {
            answers.Add((await http.GetAsync("/v1/workflows")).StatusCode);
        }

        // Five between them, then the budget is spent on both: the sixth call, on the second server, is refused.
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), HttpStatusCode.TooManyRequests], answers);
    }

    [Fact]
    public async Task A_clients_stream_cap_holds_across_two_servers_and_each_server_caps_its_own_streams()
    {
        var settings = Shared(("RateLimits:MaxOpenStreamsPerClient", "1"), ("Models:Scripted:TurnDelayMs", "60000"));
        await using var first = await QlawApplication.StartAsync(stack, settings);
        await using var second = await QlawApplication.StartAsync(stack, settings, database: first.PostgresConnectionString);
        var runs = new RunsClient(first.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "slow"));
        var runId = await runs.StartAsync("slow");

        using (var open = await OpenStreamAsync(first.CreateClient(), runId))
        {
            Assert.Equal(HttpStatusCode.OK, open.StatusCode);
            using var refused = await OpenStreamAsync(second.CreateClient(), runId);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        // The place is given back when the stream ends.
        await Poll.UntilAsync(
            async () =>
            {
                using var again = await OpenStreamAsync(second.CreateClient(), runId);
                return again.StatusCode == HttpStatusCode.OK;
            },
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200), "the first stream's place was never given back");

        await using var lone = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["RateLimits:MaxOpenStreams"] = "1",
            ["Models:Scripted:TurnDelayMs"] = "60000",
        }, database: first.PostgresConnectionString);
        using var held = await OpenStreamAsync(lone.CreateClient(), runId);
        using var over = await OpenStreamAsync(lone.CreateClient(), runId);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.TooManyRequests), (held.StatusCode, over.StatusCode));
        await runs.PostAsync(runId, "cancel");
    }

    [Fact]
    public async Task A_client_is_its_ipv4_address_or_its_ipv6_64()
    {
        await using var app = await QlawApplication.StartAsync(stack);
        string ClientOf(string address) => RateLimiting.ClientOf(new DefaultHttpContext
        {
            RequestServices = app.Services,
            Connection = { RemoteIpAddress = IPAddress.Parse(address) },
        });

        Assert.Equal("2001:db8:1:2::/64", ClientOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        Assert.Equal(ClientOf("2001:db8:1:2::1"), ClientOf("2001:db8:1:2:ffff::9"));
        Assert.NotEqual(ClientOf("2001:db8:1:2::1"), ClientOf("2001:db8:1:3::1"));
        Assert.Equal("203.0.113.7", ClientOf("203.0.113.7"));
        Assert.Equal("203.0.113.7", ClientOf("::ffff:203.0.113.7"));
    }

    private Dictionary<string, string?> Shared(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.Redis.ConnectionString,
            ["Redis:KeyPrefix"] = _prefix,
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static Task<HttpResponseMessage> OpenStreamAsync(HttpClient http, string runId) =>
        http.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{runId}/responses"), HttpCompletionOption.ResponseHeadersRead);
}
