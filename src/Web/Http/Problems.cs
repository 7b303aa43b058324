using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace CollabAkka.Web.Http;

/// <summary>RFC 7807 problem details carrying the same stable <c>code</c> as hub errors.</summary>
public static class Problems
{
    public static Task WriteAsync(HttpContext http, int status, string code, string detail, object? details = null)
    {
        if (http.Response.HasStarted)
        {
            return Task.CompletedTask;
        }
        http.Response.StatusCode = status;
        return Results.Problem(Create(http, status, code, detail, details)).ExecuteAsync(http);
    }

    public static IResult Result(HttpContext http, int status, string code, string detail, object? details = null) =>
        Results.Problem(Create(http, status, code, detail, details));

    private static ProblemDetails Create(HttpContext http, int status, string code, string detail, object? details)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = code,
            Detail = detail,
            Type = $"https://collabakka.dev/errors/{code.ToLowerInvariant().Replace('_', '-')}",
            Instance = http.Request.Path,
        };
        problem.Extensions["code"] = code;
        problem.Extensions["traceId"] = http.TraceIdentifier;
        if (details is not null)
        {
            problem.Extensions["details"] = details;
        }
        return problem;
    }
}
