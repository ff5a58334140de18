using System.Net;
using Abstrakt.Api;
using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>A batch's output folder: names from sources, refusals before paying, downloads over a fake handler.</summary>
public sealed class OutputDownloaderTests : IDisposable
{
    private static readonly byte[] Png = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0 };
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-core-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeHandler _handler = new(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(new byte[] { 1, 2, 3 }) });

    public OutputDownloaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Out => Path.Combine(_dir, "out");

    private OutputDownloader Downloader(AbstraktClient client, bool force = false) =>
        new(client, new BatchOptions { OutputDirectory = Out, Force = force });

    private AbstraktClient Client() => new(new AbstraktClientOptions { Endpoint = new Uri("https://api.abstrakt.test"), Handler = _handler, Time = new FakeTimeProvider() });

    private WorkItem ImageItem(long index, string folder, string name, byte variant)
    {
        var path = Path.Combine(_dir, folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Png.Append(variant).ToArray());
        return new WorkItem(index, "upscale", image: ImageInput.Open(path));
    }

    // An IP literal (TEST-NET-3): a public host that needs no name lookup, so nothing leaves the machine.
    private static JobInfo Job(string id) => ApiJson.ReadJob(System.Text.Json.JsonDocument.Parse(
        $$$"""{"job_id":"{{{id}}}","status":"completed","output":{"items":[{"url":"https://203.0.113.5/{{{id}}}.png","content_type":"image/png"}]}}""").RootElement);

    [Fact]
    public void New_CreatesTheFolder_AndRefusesAFileInItsPlace()
    {
        using var client = Client();
        Downloader(client);
        File.WriteAllText(Path.Combine(_dir, "file"), "x");

        Assert.True(Directory.Exists(Out));
        Assert.Throws<ArgumentException>(() => new OutputDownloader(client, new BatchOptions { OutputDirectory = Path.Combine(_dir, "file") }));
    }

    [Fact]
    public async Task Download_ImageItems_AreNamedAfterTheirSources_TheLaterOfTwoNamesWithItsHash()
    {
        using var client = Client();
        var outputs = Downloader(client);
        var first = ImageItem(1, "a", "IMG.png", 1);
        var second = ImageItem(2, "b", "img.PNG", 2);
        outputs.ClaimSourceStem(first);
        outputs.ClaimSourceStem(second);

        var one = await outputs.DownloadAsync(first, Job("job_1"), CancellationToken.None);
        var two = await outputs.DownloadAsync(second, Job("job_2"), CancellationToken.None);

        Assert.Equal(Path.Combine(Path.GetFullPath(Out), "IMG.png"), Assert.Single(one));
        Assert.Equal(Path.Combine(Path.GetFullPath(Out), "img-" + second.Image!.Sha256!.Substring(0, 8) + ".png"), Assert.Single(two));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(one[0]));
        Assert.Equal(new[] { "GET /job_1.png", "GET /job_2.png" }, _handler.Requests);
    }

    [Fact]
    public async Task Download_PromptItem_IsNamedByIndexSlugAndJob()
    {
        using var client = Client();

        var files = await Downloader(client).DownloadAsync(new WorkItem(7, "A Red Fox!"), Job("job_7"), CancellationToken.None);

        Assert.Equal("00007-a-red-fox-job_7.png", Path.GetFileName(Assert.Single(files)));
    }

    [Fact]
    public async Task Download_NoFolder_WritesNothing()
    {
        using var client = Client();

        var files = await new OutputDownloader(client, new BatchOptions()).DownloadAsync(new WorkItem(1, "x"), Job("job_1"), CancellationToken.None);

        Assert.Empty(files);
        Assert.Empty(_handler.Requests);
    }

    [Fact]
    public void RefuseTakenOutput_ASourceNamedFileAlreadyThere_FailsBeforeAnythingIsPaid_UnlessForced()
    {
        using var client = Client();
        var item = ImageItem(1, "a", "IMG.png", 1);
        var outputs = Downloader(client);
        outputs.ClaimSourceStem(item);
        File.WriteAllText(Path.Combine(Out, "IMG.jpg"), "kept");
        var forced = Downloader(client, force: true);
        forced.ClaimSourceStem(item);

        var error = Assert.Throws<AbstraktApiException>(() => outputs.RefuseTakenOutput(item));
        forced.RefuseTakenOutput(item);

        Assert.Equal(ErrorCodes.OutputExists, error.Code);
        Assert.Contains("IMG.jpg", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseTakenOutput_PromptItems_AreNeverRefused()
    {
        using var client = Client();
        File.WriteAllText(Path.Combine(_dir, "x"), "x");

        Downloader(client).RefuseTakenOutput(new WorkItem(1, "x"));
    }
}
