using System.Security.Cryptography;
using System.Text;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Core.Tests;

public sealed class ImageInputTests : IDisposable
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
    private readonly string _dir = Directory.CreateTempSubdirectory("abstrakt-image-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0 }, "image/png")]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0 }, "image/jpeg")]
    [InlineData(new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 0, 0, 0, 0, (byte)'W', (byte)'E', (byte)'B', (byte)'P' }, "image/webp")]
    [InlineData(new byte[] { (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o', 0, 0, 0, 0, 0, 0, 0 }, null)]
    public void Detect_FirstBytes_NameTheTypeByContent(byte[] head, string? expected)
    {
        Assert.Equal(expected, ImageInput.Detect(head, head.Length));
    }

    [Fact]
    public void Open_TextFileNamedPng_IsNotAnImage()
    {
        var path = Write("photo.png", Encoding.UTF8.GetBytes("just text"));

        var ex = Assert.Throws<ImageInputException>(() => ImageInput.Open(path));

        Assert.Equal(ImageProblem.NotAnImage, ex.Problem);
        Assert.Contains("photo.png", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OverTheLimit_IsTooLargeAndNamesTheLimit()
    {
        var path = Write("big.png", PngSignature.Concat(new byte[100]).ToArray());

        var ex = Assert.Throws<ImageInputException>(() => ImageInput.Open(path, maxBytes: 64));

        Assert.Equal(ImageProblem.TooLarge, ex.Problem);
        Assert.Contains("big.png", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_MissingFile_IsNotFound()
    {
        var ex = Assert.Throws<ImageInputException>(() => ImageInput.Open(Path.Combine(_dir, "gone.jpg")));

        Assert.Equal(ImageProblem.NotFound, ex.Problem);
    }

    [Fact]
    public void Open_Png_HoldsTheContentHashNotTheBytes()
    {
        var bytes = PngSignature.Concat(Enumerable.Range(0, 5000).Select(i => (byte)i)).ToArray();
        var path = Write("IMG_0042.png", bytes);

        var image = ImageInput.Open(path);

        Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), image.Sha256);
        Assert.Equal("image/png", image.MediaType);
        Assert.Equal(bytes.Length, image.Length);
        Assert.Equal("sha256:" + image.Sha256, image.ToString());
    }

    [Fact]
    public void WorkItem_ImageItem_IdFollowsContentNotPathOrPosition()
    {
        var bytes = PngSignature.Concat(new byte[] { 1, 2, 3 }).ToArray();
        var a = new WorkItem(1, string.Empty, image: ImageInput.Open(Write("a.png", bytes)));
        var renamed = new WorkItem(7, string.Empty, image: ImageInput.Open(Write("b.png", bytes)));
        var edited = new WorkItem(1, string.Empty, image: ImageInput.Open(Write("c.png", PngSignature.Concat(new byte[] { 1, 2, 4 }).ToArray())));

        Assert.Equal(a.Id, renamed.Id);
        Assert.NotEqual(a.Id, edited.Id);
    }

    [Theory]
    [InlineData("""{"properties":{"prompt":{"type":"string"},"image_url":{"type":"string","format":"uri"}}}""", "image_url")]
    [InlineData("""{"properties":{"image":{"type":"string"}}}""", "image")]
    [InlineData("""{"properties":{"source_url":{"type":"string"}}}""", "source_url")]
    [InlineData("""{"properties":{"src":{"type":"string","format":"uri"}}}""", "src")]
    [InlineData("""{"properties":{"prompt":{"type":"string"},"seed":{"type":"integer"}}}""", null)]
    [InlineData(null, null)]
    public void ImageField_FromSchema_NamesTheImageStringProperty(string? schema, string? expected)
    {
        Assert.Equal(expected, ImageField.From(schema));
    }

    [Fact]
    public async Task InlineImageContent_StreamsTheFileAsADataUriInsideTheJson_WithItsLengthKnownBeforehand()
    {
        var bytes = PngSignature.Concat(Enumerable.Range(0, 100_001).Select(i => (byte)(i * 7))).ToArray();
        var image = ImageInput.Open(Write("x.png", bytes));
        var json = Encoding.UTF8.GetBytes("""{"input":{"image_url":"PLACEHOLDER","seed":1},"sync":true}""");
        using var content = new InlineImageContent(json, "PLACEHOLDER", image);

        var sent = await content.ReadAsByteArrayAsync();

        Assert.Equal(content.Headers.ContentLength, sent.Length);
        using var doc = System.Text.Json.JsonDocument.Parse(sent);
        var uri = doc.RootElement.GetProperty("input").GetProperty("image_url").GetString()!;
        Assert.StartsWith("data:image/png;base64,", uri, StringComparison.Ordinal);
        Assert.Equal(bytes, Convert.FromBase64String(uri.Substring("data:image/png;base64,".Length)));
        Assert.Equal(1, doc.RootElement.GetProperty("input").GetProperty("seed").GetInt32());
    }
}
