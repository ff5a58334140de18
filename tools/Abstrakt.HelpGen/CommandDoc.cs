using System.Text.RegularExpressions;

namespace Abstrakt.HelpGen;

/// <summary>One cmdlet's help as written in docs/cmdlets/&lt;Name&gt;.md (platyPS's markdown layout).</summary>
internal sealed class CommandDoc
{
    public string Name { get; private set; } = "";
    public string Synopsis { get; private set; } = "";
    public List<string> Description { get; } = [];
    public List<Example> Examples { get; } = [];
    public Dictionary<string, List<string>> Parameters { get; } = new(StringComparer.OrdinalIgnoreCase);
    public List<(string Type, List<string> Text)> Inputs { get; } = [];
    public List<(string Type, List<string> Text)> Outputs { get; } = [];
    public List<string> Notes { get; } = [];
    public List<(string Text, string Uri)> Links { get; } = [];

    internal sealed record Example(string Title, string Code, List<string> Remarks);

    private static readonly Regex LinkPattern = new(@"^\s*-?\s*\[(?<text>[^\]]+)\]\((?<uri>[^)]*)\)\s*$");

    /// <summary>Reads the markdown. Paragraphs are kept apart; fenced code is kept verbatim.</summary>
    public static CommandDoc Parse(string path)
    {
        var doc = new CommandDoc();
        string section = "", sub = "";
        List<string>? paragraphs = null;
        var current = new List<string>();
        var inFence = false;
        var fenceIsYaml = false;
        var code = new List<string>();
        string? exampleTitle = null;
        string? exampleCode = null;

        void Flush()
        {
            if (current.Count > 0 && paragraphs is not null)
            {
                paragraphs.Add(string.Join(" ", current.Select(l => l.Trim())));
            }
            current.Clear();
        }

        void EndExample()
        {
            Flush();
            if (exampleTitle is not null)
            {
                doc.Examples.Add(new Example(exampleTitle, exampleCode ?? "", paragraphs ?? []));
            }
            exampleTitle = null;
            exampleCode = null;
        }

        var lines = File.ReadAllLines(path);
        var start = 0;
        if (lines.Length > 0 && lines[0] == "---")
        {
            start = Array.IndexOf(lines, "---", 1) + 1; // skip the front matter
        }

        for (var i = start; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.StartsWith("```"))
            {
                if (!inFence)
                {
                    Flush();
                    inFence = true;
                    fenceIsYaml = line.Trim() == "```yaml";
                    code.Clear();
                }
                else
                {
                    inFence = false;
                    if (section == "EXAMPLES" && !fenceIsYaml)
                    {
                        exampleCode = string.Join("\n", code);
                    }
                }
                continue;
            }

            if (inFence)
            {
                code.Add(line);
                continue;
            }

            if (line.StartsWith("# "))
            {
                doc.Name = line[2..].Trim();
                continue;
            }

            if (line.StartsWith("## "))
            {
                if (section == "EXAMPLES") EndExample(); else Flush();
                section = line[3..].Trim().ToUpperInvariant();
                sub = "";
                paragraphs = section switch
                {
                    "DESCRIPTION" => doc.Description,
                    "NOTES" => doc.Notes,
                    _ => null,
                };
                continue;
            }

            if (line.StartsWith("### "))
            {
                if (section == "EXAMPLES") EndExample(); else Flush();
                sub = line[4..].Trim();
                paragraphs = [];
                switch (section)
                {
                    case "EXAMPLES": exampleTitle = sub; break;
                    case "PARAMETERS": doc.Parameters[sub.TrimStart('-')] = paragraphs; break;
                    case "INPUTS": doc.Inputs.Add((sub, paragraphs)); break;
                    case "OUTPUTS": doc.Outputs.Add((sub, paragraphs)); break;
                    default: break;
                }
                continue;
            }

            if (section == "SYNOPSIS")
            {
                doc.Synopsis = (doc.Synopsis + " " + line.Trim()).Trim();
                continue;
            }

            if (section == "RELATED LINKS")
            {
                var m = LinkPattern.Match(line);
                if (m.Success) doc.Links.Add((m.Groups["text"].Value, m.Groups["uri"].Value));
                continue;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                Flush();
            }
            else
            {
                // A markdown list item starts its own paragraph.
                if (line.TrimStart().StartsWith("- ")) Flush();
                current.Add(line);
            }
        }

        if (section == "EXAMPLES") EndExample(); else Flush();
        return doc;
    }
}
