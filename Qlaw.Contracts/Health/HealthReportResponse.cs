namespace Qlaw.Contracts.Health;

/// <summary>Body of the health endpoints: the overall status and each check's (<c>healthy</c>, <c>unhealthy</c>, …).</summary>
public sealed record HealthReportResponse(string Status, IReadOnlyDictionary<string, HealthCheckResponse> Checks);

/// <summary>One check of a <see cref="HealthReportResponse"/>; the description says what is wrong, never an exception.</summary>
public sealed record HealthCheckResponse(string Status, string? Description);
