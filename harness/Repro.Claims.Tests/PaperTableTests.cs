using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>
/// The transcribed tables of each paper (Kurz et al., Lang-Prune) have the shapes the paper prints and the values the
/// text and EVALUATION §5–6 quote, as each paper's <c>checks.json</c> lists them.
/// </summary>
public sealed class PaperTableTests
{
    /// <summary>Each transcribed paper's folder under expectations/papers and the paper file its cells cite (Kurz's checks.json predates the "paper" field).</summary>
    static readonly (string Folder, string PaperFile)[] Papers = [("kurz", "002_cd42b15cafe639de.txt"), ("lang-prune", "003_1497ab4185c8e4d0.txt")];

    static JsonObject Checks(string folder) => Expectations.Json("papers", folder, "checks.json").AsObject();

    static string File(string folder, string file) => Path.Combine(RepoPaths.Expectations, "papers", folder, file);

    static IEnumerable<TestCaseData> Shapes() =>
        from paper in Papers
        let checks = Checks(paper.Folder)
        from s in checks["shapes"]!.AsArray()
        select new TestCaseData(paper.Folder, paper.PaperFile, s!.AsObject()).SetArgDisplayNames(paper.Folder, (string)s!["file"]!);

    /// <summary>A count that is one number for every block or a number per block ("model method").</summary>
    static void PerBlock(IReadOnlyList<Block> blocks, JsonNode expected, Func<Block, int> actual, string what)
    {
        if (expected is JsonObject perBlock)
        {
            Assert.That(blocks.Select(b => b.Name), Is.EquivalentTo(perBlock.Select(p => p.Key)), $"blocks named in '{what}'");
            foreach (var block in blocks.Where(b => perBlock.ContainsKey(b.Name)))
                Assert.That(actual(block), Is.EqualTo((int)perBlock[block.Name]!), $"{what} of {block.Name}");
        }
        else Assert.That(blocks.Select(actual), Is.All.EqualTo((int)expected), $"{what} per block");
    }

    [TestCaseSource(nameof(Shapes))]
    public void Table_has_the_printed_shape(string folder, string paperFile, JsonObject shape)
    {
        var file = (string)shape["file"]!;
        var cells = PaperTables.Load(File(folder, file));
        var blocks = PaperTables.Blocks(cells, file);
        Assert.Multiple(() =>
        {
            Assert.That(cells.Select(c => (c.Model, c.Method, c.Row, c.Task, c.Language)).Distinct().Count(), Is.EqualTo((int)shape["cells"]!), "distinct printed cells");
            Assert.That(blocks, Has.Count.EqualTo((int)shape["blocks"]!), "blocks");
            PerBlock(blocks, shape["rows"]!, b => b.Rows.Count, "calibration rows");
            PerBlock(blocks, shape["columns"]!, b => b.Columns.Count, "columns");
            if (shape["complete"] is not { } complete || (bool)complete)
                Assert.That(blocks.All(b => b.Rows.All(r => b.Columns.All(c => b[r, c] is not null))), "every row has every column");
            if (shape["blockCells"] is { } blockCells) PerBlock(blocks, blockCells, b => b.Cells.Count, "cells");
            if (shape["denseRows"] is { } dense)
                Assert.That(cells.Where(c => c.Method == "dense").Select(c => c.Model).Distinct().Count(), Is.EqualTo((int)dense), "dense rows");
            if (shape["withStd"] is { } std)
                Assert.That(blocks.Sum(b => b.Cells.Values.Count(c => c.Std is not null)), Is.EqualTo((int)std), "cells with a std");
            Assert.That(cells.All(c => c.Line > 0 && c.Paper == paperFile), "provenance on every cell");
        });
    }

    static IEnumerable<TestCaseData> PaperCases() =>
        Papers.Select(p => new TestCaseData(p.Folder, p.PaperFile).SetArgDisplayNames(p.Folder));

    [TestCaseSource(nameof(PaperCases))]
    public void Checks_name_the_paper_the_cells_cite(string folder, string paperFile) =>
        Assert.That((string?)Checks(folder)["paper"] ?? paperFile, Is.EqualTo(paperFile));

    static IEnumerable<TestCaseData> Spots() =>
        from paper in Papers
        from s in Checks(paper.Folder)["spots"]!.AsArray()
        select new TestCaseData(paper.Folder, s!.AsObject())
            .SetArgDisplayNames(paper.Folder, $"{s!["file"]} {s["model"]} {s["method"]} {s["task"]} {s["language"]} {s["row"]}");

    [TestCaseSource(nameof(Spots))]
    public void Spot_value_reads_as_printed(string folder, JsonObject spot)
    {
        var cell = PaperTables.Load(File(folder, (string)spot["file"]!)).Where(c =>
            c.Model == (string)spot["model"]! && c.Method == (string)spot["method"]! && c.Task == (string)spot["task"]! &&
            c.Language == (string)spot["language"]! && c.Row == (string)spot["row"]!).ToList();
        Assert.That(cell, Is.Not.Empty, "no such cell");
        Assert.That(cell.Select(c => c.Value), Is.All.EqualTo((double)spot["value"]!));
        if (spot["std"] is { } std) Assert.That(cell.Select(c => c.Std), Is.All.EqualTo((double)std));
    }

    [Test]
    public void A_cell_printed_twice_with_different_numbers_is_refused_naming_both_lines()
    {
        var cell = new PaperCell("p.txt", "1", "M", "wanda", "de", "ppl", "de", 14.5, null, "ppl", 30, "", "14.5");
        var error = Assert.Throws<ClaimFileException>(() => PaperTables.Blocks([cell, cell with { Value = 14.6, Text = "14.6", Line = 330 }], "t.csv"));
        Assert.That(error!.Message, Does.Contain("line 30").And.Contain("line 330"));
    }

    /// <summary>
    /// Lang-Prune prints Qwen3-8B's 50 % monolingual average as 36.94 (Tables 4, 11) and 36.72 (Table 15): the two
    /// files load apart, refuse to be merged, and no claim selects both cells.
    /// </summary>
    [Test]
    public void Lang_prune_conflicting_duplicate_stays_in_separate_files_and_out_of_every_claims_selection()
    {
        var table4 = PaperTables.Load(File("lang-prune", "table4.csv"));
        var table15 = PaperTables.Load(File("lang-prune", "table15.csv"));
        Assert.That(() => PaperTables.Blocks([.. table4, .. table15], "table4+15"),
                    Throws.TypeOf<ClaimFileException>().With.Message.Contains("line 197").And.Message.Contains("line 535"));
        foreach (var claim in ClaimCatalog.Load(RepoPaths.Expectations))
            Assert.That(() => ClaimCatalog.PaperBlocks(claim, RepoPaths.Expectations), Throws.Nothing, $"{claim.Id} ({claim.File})");
    }
}
