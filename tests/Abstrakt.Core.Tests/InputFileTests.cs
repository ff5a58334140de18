using Abstrakt.Engine;

namespace Abstrakt.Core.Tests;

public sealed class InputFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("abstrakt-input-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Read_Csv_QuotedCommasQuotesAndLineBreaksStayInTheirField()
    {
        var path = Write("items.csv", "Id,Prompt\r\na,\"one, two\"\r\n\r\nb,\"say \"\"hi\"\"\nthen go\"\r\nc\r\n");

        var rows = InputFile.Read(path).Cast<IDictionary<string, object?>>().ToList();

        Assert.Equal(3, InputFile.Count(path));
        Assert.Equal(3, rows.Count);
        Assert.Equal("one, two", rows[0]["prompt"]);
        Assert.Equal("say \"hi\"\nthen go", rows[1]["Prompt"]);
        Assert.Equal(string.Empty, rows[2]["Prompt"]);
    }

    [Fact]
    public void Read_JsonLines_GivesObjectsStringsAndAnErrorForABadLine()
    {
        var path = Write("items.jsonl", "{\"Prompt\":\"a\",\"num_images\":2}\n\n\"just text\"\n{not json\n");

        var items = InputFile.Read(path).ToList();

        Assert.Equal(3, InputFile.Count(path));
        Assert.Equal("a", ((IDictionary<string, object?>)items[0]!)["prompt"]);
        Assert.Equal("just text", items[1]);
        var error = Assert.IsType<InputFileError>(items[2]);
        Assert.Equal(3, error.Record);
        Assert.Equal(4, error.Line); // after a blank line, as an editor counts
        Assert.StartsWith("record 3 (line 4): not JSON", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_Text_IsOnePromptPerNonBlankLine()
    {
        var path = Write("prompts.txt", "a fox\n\n  \na hare\n");

        Assert.Equal(new object?[] { "a fox", "a hare" }, InputFile.Read(path));
        Assert.Equal(2, InputFile.Count(path));
    }
}
