using System.Text;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Webhooks;
using BenchmarkDotNet.Attributes;

namespace Abstrakt.Bench;

/// <summary>The per-item pieces of work that do not wait on the network.</summary>
[MemoryDiagnoser]
public class Micro
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"job_id":"job_1","status":"succeeded","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png","width":1024,"height":1024}]},"credits_used":3}""");

    [Benchmark]
    public string SignWebhook() => WebhookSignature.Compute("whsec_benchmark", "1760000000", Body);

    [Benchmark]
    public JobInfo ReadJob()
    {
        using var doc = JsonDocument.Parse(Body);
        return ApiJson.ReadJob(doc.RootElement);
    }

    [Benchmark]
    public WorkItem NewWorkItem() => new(42, "a lighthouse at dusk, oil painting, dramatic sky");
}
