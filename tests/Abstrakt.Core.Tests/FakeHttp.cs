using System.Net;
using System.Text;

namespace Abstrakt.Core.Tests;

/// <summary>
/// A fake innermost handler: answers each request from a function (or the next canned answer) and records what was
/// sent, bodies included. No sockets; with a fake clock, a test of the client's logic runs in milliseconds.
/// </summary>
internal sealed class FakeHandler : HttpMessageHandler
{
    private readonly object _lock = new();
    private readonly Func<HttpRequestMessage, HttpResponseMessage> _answer;

    public FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) => _answer = answer;

    public FakeHandler(params Func<HttpResponseMessage>[] answers)
    {
        var queue = new Queue<Func<HttpResponseMessage>>(answers);
        _answer = _ => queue.Dequeue()();
    }

    /// <summary>The requests, in the order they reached the wire.</summary>
    public List<HttpRequestMessage> Sent { get; } = new();

    /// <summary>"METHOD /path" of each request, in order.</summary>
    public List<string> Requests { get; } = new();

    /// <summary>The body of each request ("" when none), in order.</summary>
    public List<string> Bodies { get; } = new();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Sent.Add(request);
            Requests.Add(request.Method.Method + " " + request.RequestUri!.AbsolutePath);
            Bodies.Add(request.Content?.ReadAsStringAsync(cancellationToken).GetAwaiter().GetResult() ?? string.Empty);
            return Task.FromResult(_answer(request));
        }
    }
}

/// <summary>Canned answers for <see cref="FakeHandler"/>.</summary>
internal static class Answers
{
    public const string CompletedJob = """{"job_id":"job_1","status":"completed","model_id":"flux-schnell","output":{"items":[{"url":"https://cdn.example/x.png"}]},"credits_used":1}""";

    public static Func<HttpResponseMessage> Answer(HttpStatusCode status, string body, params (string Name, string Value)[] headers) => () => JsonAnswer(status, body, headers);

    public static HttpResponseMessage JsonAnswer(HttpStatusCode status, string body, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    /// <summary>A job in the given state, as the service answers a create or a poll.</summary>
    public static HttpResponseMessage Job(string id, string status, string extra = "") =>
        JsonAnswer(status == "completed" ? HttpStatusCode.OK : HttpStatusCode.Accepted, "{\"job_id\":\"" + id + "\",\"status\":\"" + status + "\",\"model_id\":\"flux-schnell\"" + extra + "}");

    /// <summary>A job that completed with one output at <paramref name="url"/>.</summary>
    public static HttpResponseMessage Completed(string id, string url = "https://cdn.example/x.png") =>
        Job(id, "completed", ",\"output\":{\"items\":[{\"url\":\"" + url + "\",\"content_type\":\"image/png\"}]},\"credits_used\":1");

    public static HttpResponseMessage Error(int status, string code, string message = "no") =>
        JsonAnswer((HttpStatusCode)status, "{\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}}");
}
