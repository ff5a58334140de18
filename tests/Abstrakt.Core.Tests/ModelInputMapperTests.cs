using System.Net;
using Abstrakt.Api;
using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;
using static Abstrakt.Core.Tests.Answers;

namespace Abstrakt.Core.Tests;

/// <summary>A work item as its model's input: fields, the image field from the catalogue (a fake handler), the canonical key.</summary>
public sealed class ModelInputMapperTests
{
    private static readonly ImageInput Photo = ImageInput.FromUrl("https://img.example/cat.png");

    private static AbstraktClient Client(FakeHandler handler) => new(new AbstraktClientOptions
    {
        Endpoint = new Uri("https://api.abstrakt.test"), Handler = handler, Time = new FakeTimeProvider(),
    });

    private static HttpResponseMessage Model(string schemaProperties) =>
        JsonAnswer(HttpStatusCode.OK, """{"id":"upscaler","input_schema":{"type":"object","properties":""" + schemaProperties + "}}");

    [Fact]
    public async Task InputFor_PromptModel_TakesThePromptAndTheItemsInputs()
    {
        using var client = Client(new FakeHandler());
        var item = new WorkItem(1, "a fox", input: new Dictionary<string, object?> { ["seed"] = 3, ["image_size"] = "square" });

        var input = await new ModelInputMapper(client).InputForAsync(item, "flux-schnell", CancellationToken.None);

        Assert.Equal(new Dictionary<string, object?> { ["prompt"] = "a fox", ["seed"] = 3, ["image_size"] = "square" }, input);
    }

    [Theory]
    [InlineData("kokoro-tts", false, "text")]
    [InlineData("KOKORO-TTS", false, "text")]
    [InlineData("kokoro-tts", true, "prompt")]
    [InlineData("flux-schnell", false, "prompt")]
    public void PromptField_SpeechModelsTakeText_UnlessTheItemNamesPrompt(string model, bool itemNamesPrompt, string expected)
    {
        var input = itemNamesPrompt ? new Dictionary<string, object?> { ["prompt"] = "x" } : null;

        Assert.Equal(expected, ModelInputMapper.PromptField(new WorkItem(1, "hello", input: input), model));
    }

    [Fact]
    public async Task InputFor_ItemsOwnPrompt_WinsOverTheText()
    {
        using var client = Client(new FakeHandler());
        var item = new WorkItem(1, "hello", input: new Dictionary<string, object?> { ["prompt"] = "from the row" });

        var input = await new ModelInputMapper(client).InputForAsync(item, "kokoro-tts", CancellationToken.None);

        Assert.Equal(new Dictionary<string, object?> { ["prompt"] = "from the row" }, input);
    }

    [Fact]
    public async Task InputFor_ImageItem_UsesTheFieldTheSchemaNames_AskedOncePerModel()
    {
        var handler = new FakeHandler(_ => Model("""{"source_url":{"type":"string"},"scale":{"type":"integer"}}"""));
        using var client = Client(handler);
        var mapper = new ModelInputMapper(client);

        var first = await mapper.InputForAsync(new WorkItem(1, string.Empty, image: Photo), "upscaler", CancellationToken.None);
        var second = await mapper.InputForAsync(new WorkItem(2, string.Empty, image: Photo), "UPSCALER", CancellationToken.None);

        Assert.Same(Photo, first["source_url"]);
        Assert.Same(Photo, second["source_url"]);
        Assert.Equal(new[] { "GET /v1/models/upscaler" }, handler.Requests);
    }

    [Fact]
    public async Task ImageField_PassingFailure_RetriesTheItemAndIsAskedAgain()
    {
        var handler = new FakeHandler(() => Error(503, ErrorCodes.ModelUnavailable), () => Model("""{"image":{"type":"string"}}"""));
        using var client = Client(handler);
        var mapper = new ModelInputMapper(client);

        var error = await Assert.ThrowsAsync<AbstraktApiException>(() => mapper.ImageFieldAsync("upscaler", CancellationToken.None));
        var field = await mapper.ImageFieldAsync("upscaler", CancellationToken.None);

        Assert.Equal(ErrorCodes.ModelUnavailable, error.Code);
        Assert.Equal("image", field);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task ImageField_OtherFailure_FallsBackToTheDocsField_SoTheRunItselfAnswers()
    {
        using var client = Client(new FakeHandler(() => Error(404, ErrorCodes.ModelNotFound)));

        Assert.Equal(ImageField.Default, await new ModelInputMapper(client).ImageFieldAsync("nope", CancellationToken.None));
    }

    [Fact]
    public void CanonicalHash_IgnoresKeyOrder_ButNotValuesOrTheModel()
    {
        var a = new Dictionary<string, object?> { ["prompt"] = "x", ["seed"] = 1 };
        var b = new Dictionary<string, object?> { ["seed"] = 1, ["prompt"] = "x" };
        var c = new Dictionary<string, object?> { ["seed"] = 2, ["prompt"] = "x" };

        Assert.Equal(ModelInputMapper.CanonicalHash("m", a), ModelInputMapper.CanonicalHash("m", b));
        Assert.NotEqual(ModelInputMapper.CanonicalHash("m", a), ModelInputMapper.CanonicalHash("m", c));
        Assert.NotEqual(ModelInputMapper.CanonicalHash("m", a), ModelInputMapper.CanonicalHash("n", a));
        Assert.Matches("^[0-9a-f]{16}$", ModelInputMapper.CanonicalHash("m", a));
    }

    [Fact]
    public void IdempotencyKey_IsBatchItemHashAndResubmission_InPlainAscii()
    {
        var input = new Dictionary<string, object?> { ["prompt"] = "x" };
        var hash = ModelInputMapper.CanonicalHash("m", input);

        Assert.Equal("b1:hero:" + hash, ModelInputMapper.IdempotencyKey("b1", new WorkItem(1, "x", id: "hero"), "m", input, 0));
        Assert.Equal("b1:hero:" + hash + ":2", ModelInputMapper.IdempotencyKey("b1", new WorkItem(1, "x", id: "hero"), "m", input, 2));
        Assert.Matches("^b1:h[0-9a-f]{16}:[0-9a-f]{16}$", ModelInputMapper.IdempotencyKey("b1", new WorkItem(1, "x", id: "café"), "m", input, 0));
        Assert.Matches("^b1:h[0-9a-f]{16}:", ModelInputMapper.IdempotencyKey("b1", new WorkItem(1, "x", id: "a:b"), "m", input, 0));
    }
}
