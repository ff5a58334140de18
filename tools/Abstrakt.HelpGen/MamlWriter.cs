using System.Management.Automation;
using System.Reflection;
using System.Xml;

namespace Abstrakt.HelpGen;

/// <summary>Writes MAML command help: text from the markdown, parameter facts from the cmdlet class.</summary>
internal static class MamlWriter
{
    private const string Maml = "http://schemas.microsoft.com/maml/2004/10";
    private const string Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private const string Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    private sealed record Param(string Name, Type Type, ParameterAttribute Attribute, string[] Aliases, string[] Values, object? Default, List<string> Text);

    /// <summary>Returns the problems found (undocumented cmdlets or parameters); writes nothing when there are any.</summary>
    public static List<string> Write(IReadOnlyList<Type> cmdlets, string docsDirectory, string outputFile)
    {
        var problems = new List<string>();
        var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new System.Text.UTF8Encoding(false) };
        using var buffer = new StringWriter();
        using (var xml = XmlWriter.Create(buffer, settings))
        {
            xml.WriteStartElement("helpItems", "http://msh");
            xml.WriteAttributeString("schema", "maml");
            foreach (var type in cmdlets)
            {
                var attribute = type.GetCustomAttribute<CmdletAttribute>()!;
                var name = attribute.VerbName + "-" + attribute.NounName;
                var path = Path.Combine(docsDirectory, name + ".md");
                if (!File.Exists(path))
                {
                    problems.Add($"{name}: no {path}");
                    continue;
                }

                var doc = CommandDoc.Parse(path);
                var parameters = ParametersOf(type, attribute, doc, problems);
                Check(doc, name, problems);
                WriteCommand(xml, name, attribute, doc, parameters);
            }
            xml.WriteEndElement();
        }

        if (problems.Count == 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(outputFile)!);
            var text = buffer.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal);
            if (!File.Exists(outputFile) || File.ReadAllText(outputFile) != text)
            {
                File.WriteAllText(outputFile, text); // only when changed, so incremental builds stay quiet
            }
        }

        return problems;
    }

    private static void Check(CommandDoc doc, string name, List<string> problems)
    {
        if (doc.Name != name) problems.Add($"{name}: the markdown's title is '{doc.Name}'");
        if (doc.Synopsis.Length == 0) problems.Add($"{name}: no SYNOPSIS");
        if (doc.Description.Count == 0) problems.Add($"{name}: no DESCRIPTION");
        if (doc.Examples.Count == 0 || doc.Examples.Any(e => e.Code.Length == 0)) problems.Add($"{name}: needs at least one example, each with code");
    }

    private static List<Param> ParametersOf(Type type, CmdletAttribute cmdlet, CommandDoc doc, List<string> problems)
    {
        var instance = Activator.CreateInstance(type);
        var result = new List<Param>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            foreach (var attribute in property.GetCustomAttributes<ParameterAttribute>())
            {
                if (!doc.Parameters.TryGetValue(property.Name, out var text) || text.Count == 0)
                {
                    problems.Add($"{cmdlet.VerbName}-{cmdlet.NounName}: parameter -{property.Name} is not documented");
                    text = [];
                }

                var aliases = property.GetCustomAttributes<AliasAttribute>().SelectMany(a => a.AliasNames).ToArray();
                var valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                var values = property.GetCustomAttribute<ValidateSetAttribute>()?.ValidValues.ToArray()
                    ?? (valueType.IsEnum ? Enum.GetNames(valueType) : []);
                result.Add(new Param(property.Name, valueType, attribute, aliases, values, property.GetValue(instance), text));
            }
        }

        foreach (var documented in doc.Parameters.Keys)
        {
            if (result.All(p => !p.Name.Equals(documented, StringComparison.OrdinalIgnoreCase)) && documented is not ("WhatIf" or "Confirm"))
            {
                problems.Add($"{cmdlet.VerbName}-{cmdlet.NounName}: documents -{documented}, which the cmdlet does not have");
            }
        }

        if (cmdlet.SupportsShouldProcess)
        {
            var all = new ParameterAttribute();
            result.Add(new Param("WhatIf", typeof(SwitchParameter), all, ["wi"], [], null, doc.Parameters.GetValueOrDefault("WhatIf") ?? ["Shows what would happen if the cmdlet runs. The cmdlet is not run."]));
            result.Add(new Param("Confirm", typeof(SwitchParameter), all, ["cf"], [], null, doc.Parameters.GetValueOrDefault("Confirm") ?? ["Prompts you for confirmation before running the cmdlet."]));
        }

        return result;
    }

    private static void WriteCommand(XmlWriter xml, string name, CmdletAttribute cmdlet, CommandDoc doc, List<Param> parameters)
    {
        xml.WriteStartElement("command", "command", Command);
        xml.WriteAttributeString("xmlns", "maml", null, Maml);
        xml.WriteAttributeString("xmlns", "dev", null, Dev);

        xml.WriteStartElement("details", Command);
        xml.WriteElementString("name", Command, name);
        xml.WriteElementString("verb", Command, cmdlet.VerbName);
        xml.WriteElementString("noun", Command, cmdlet.NounName);
        Paragraphs(xml, "description", Maml, [doc.Synopsis]);
        xml.WriteEndElement();

        Paragraphs(xml, "description", Maml, doc.Description);

        xml.WriteStartElement("syntax", Command);
        foreach (var set in SetsOf(parameters, cmdlet))
        {
            xml.WriteStartElement("syntaxItem", Command);
            xml.WriteElementString("name", Maml, name);
            foreach (var p in InSet(parameters, set))
            {
                WriteParameter(xml, p, inSyntax: true);
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();

        xml.WriteStartElement("parameters", Command);
        foreach (var p in parameters.GroupBy(p => p.Name).Select(g => g.First()).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            WriteParameter(xml, p, inSyntax: false);
        }
        xml.WriteEndElement();

        TypeList(xml, "inputTypes", "inputType", doc.Inputs);
        TypeList(xml, "returnValues", "returnValue", doc.Outputs);

        if (doc.Notes.Count > 0)
        {
            xml.WriteStartElement("alertSet", Maml);
            xml.WriteStartElement("alert", Maml);
            foreach (var note in doc.Notes) xml.WriteElementString("para", Maml, note);
            xml.WriteEndElement();
            xml.WriteEndElement();
        }

        xml.WriteStartElement("examples", Command);
        foreach (var example in doc.Examples)
        {
            xml.WriteStartElement("example", Command);
            xml.WriteElementString("title", Maml, "-------------------------- " + example.Title + " --------------------------");
            xml.WriteElementString("code", Dev, example.Code);
            Paragraphs(xml, "remarks", Dev, example.Remarks);
            xml.WriteEndElement();
        }
        xml.WriteEndElement();

        xml.WriteStartElement("relatedLinks", Command);
        foreach (var (text, uri) in doc.Links)
        {
            xml.WriteStartElement("navigationLink", Maml);
            xml.WriteElementString("linkText", Maml, text);
            xml.WriteElementString("uri", Maml, uri);
            xml.WriteEndElement();
        }
        xml.WriteEndElement();

        xml.WriteEndElement();
    }

    private static IEnumerable<string> SetsOf(List<Param> parameters, CmdletAttribute cmdlet)
    {
        var named = parameters.Select(p => p.Attribute.ParameterSetName).Where(s => s != ParameterAttribute.AllParameterSets).Distinct().ToList();
        if (named.Count == 0) return [ParameterAttribute.AllParameterSets];
        // The default set first, as Get-Help shows it.
        return named.OrderBy(s => s == cmdlet.DefaultParameterSetName ? 0 : 1).ThenBy(s => s, StringComparer.Ordinal);
    }

    private static IEnumerable<Param> InSet(List<Param> parameters, string set) =>
        parameters
            .Where(p => p.Attribute.ParameterSetName == set || p.Attribute.ParameterSetName == ParameterAttribute.AllParameterSets)
            .GroupBy(p => p.Name).Select(g => g.FirstOrDefault(p => p.Attribute.ParameterSetName == set) ?? g.First())
            .OrderBy(p => p.Attribute.Position < 0 ? int.MaxValue : p.Attribute.Position)
            .ThenBy(p => p.Attribute.Mandatory ? 0 : 1)
            .ThenBy(p => p.Name is "WhatIf" or "Confirm" ? 1 : 0);

    private static void WriteParameter(XmlWriter xml, Param p, bool inSyntax)
    {
        var a = p.Attribute;
        xml.WriteStartElement("parameter", Command);
        xml.WriteAttributeString("required", a.Mandatory ? "true" : "false");
        xml.WriteAttributeString("variableLength", p.Type.IsArray ? "true" : "false");
        xml.WriteAttributeString("globbing", "false");
        xml.WriteAttributeString("pipelineInput", Pipeline(a));
        xml.WriteAttributeString("position", a.Position < 0 ? "named" : a.Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        xml.WriteAttributeString("aliases", p.Aliases.Length == 0 ? "none" : string.Join(", ", p.Aliases));
        xml.WriteElementString("name", Maml, p.Name);
        Paragraphs(xml, "description", Maml, p.Text);
        var isSwitch = p.Type == typeof(SwitchParameter);
        if (p.Values.Length > 0 && inSyntax)
        {
            xml.WriteStartElement("parameterValueGroup", Command);
            foreach (var value in p.Values)
            {
                xml.WriteStartElement("parameterValue", Command);
                xml.WriteAttributeString("required", "false");
                xml.WriteAttributeString("command", "parameterValueGroup", Command, "");
                xml.WriteString(value);
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
        else if (!(isSwitch && inSyntax))
        {
            xml.WriteStartElement("parameterValue", Command);
            xml.WriteAttributeString("required", isSwitch ? "false" : "true");
            xml.WriteAttributeString("variableLength", "false");
            xml.WriteString(TypeName(p.Type));
            xml.WriteEndElement();
        }

        xml.WriteStartElement("type", Dev);
        xml.WriteElementString("name", Maml, p.Type.FullName ?? p.Type.Name);
        xml.WriteElementString("uri", Maml, "");
        xml.WriteEndElement();
        xml.WriteElementString("defaultValue", Dev, DefaultText(p));
        xml.WriteEndElement();
    }

    private static string Pipeline(ParameterAttribute a) => (a.ValueFromPipeline, a.ValueFromPipelineByPropertyName) switch
    {
        (true, true) => "True (ByValue, ByPropertyName)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };

    private static string TypeName(Type t) => t.IsArray ? t.GetElementType()!.Name + "[]" : t.Name;

    private static string DefaultText(Param p) => p.Default switch
    {
        null => "None",
        SwitchParameter s => s.IsPresent ? "True" : "False",
        string s when s.Length == 0 => "None",
        Array { Length: 0 } => "None",
        System.Collections.ICollection { Count: 0 } => "None",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        var o => o.ToString() ?? "None",
    };

    private static void Paragraphs(XmlWriter xml, string element, string ns, IEnumerable<string> paragraphs)
    {
        xml.WriteStartElement(element, ns);
        foreach (var para in paragraphs) xml.WriteElementString("para", Maml, para);
        xml.WriteEndElement();
    }

    private static void TypeList(XmlWriter xml, string list, string item, List<(string Type, List<string> Text)> types)
    {
        xml.WriteStartElement(list, Command);
        foreach (var (type, text) in types)
        {
            xml.WriteStartElement(item, Command);
            xml.WriteStartElement("type", Dev);
            xml.WriteElementString("name", Maml, type);
            xml.WriteEndElement();
            Paragraphs(xml, "description", Maml, text);
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
    }
}
