using Spectre.Console;

namespace Repro.Cli.Tests;

public sealed class TerminalTests
{
    // Display names say what each case holds: raw control characters in a test's name confuse runners and filters.
    static IEnumerable<TestCaseData> Cases() =>
    [
        new TestCaseData("de[x]", "de[[x]]").SetArgDisplayNames("markup brackets"),
        new TestCaseData("\u001b[31mred\u001b[0m", "\\u001b[[31mred\\u001b[[0m").SetArgDisplayNames("ANSI colour"),
        new TestCaseData("\u001b]0;title\u0007", "\\u001b]]0;title\\u0007").SetArgDisplayNames("OSC title"),
        new TestCaseData("a\rb\u0085c", "a\\u000db\\u0085c").SetArgDisplayNames("CR and C1 NEL"),
        new TestCaseData("\u202eevil", "\\u202eevil").SetArgDisplayNames("bidi override"),
        new TestCaseData("zh 中文 ✓", "zh 中文 ✓").SetArgDisplayNames("plain text"),
    ];

    [TestCaseSource(nameof(Cases))]
    public void Data_reaches_the_terminal_inert_and_as_itself(string data, string expected) =>
        Assert.That(Terminal.Text(data), Is.EqualTo(expected));

    [Test]
    public void A_table_of_hostile_names_renders_without_markup_errors_or_escape_sequences()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        var table = new Table().AddColumns("lang", Terminal.Text("de[x]"));
        table.AddRow(Terminal.Text("[bold]\u001b]8;;http://x\u0007link"), Terminal.Text("[/]"));
        console.Write(table);
        Assert.That(writer.ToString(), Does.Contain("de[x]").And.Contain("[bold]").And.Contain("[/]").And.Not.Contain("\u001b]"));
    }
}
