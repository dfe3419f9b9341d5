using System.Text.Json.Nodes;
using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>The transcribed tables of Kurz et al. have the shapes the paper prints and the values the text and EVALUATION §6 quote.</summary>
public sealed class PaperTableTests
{
    static IEnumerable<TestCaseData> Shapes() =>
        Expectations.Json("papers", "kurz", "checks.json")["shapes"]!.AsArray()
            .Select(s => new TestCaseData(s!.AsObject()).SetArgDisplayNames((string)s!["file"]!));

    [TestCaseSource(nameof(Shapes))]
    public void Table_has_the_printed_shape(JsonObject shape)
    {
        var file = (string)shape["file"]!;
        var cells = PaperTables.Load(Expectations.PaperFile(file));
        var blocks = PaperTables.Blocks(cells, file);
        Assert.Multiple(() =>
        {
            Assert.That(cells.Select(c => (c.Model, c.Method, c.Row, c.Task, c.Language)).Distinct().Count(), Is.EqualTo((int)shape["cells"]!), "distinct printed cells");
            Assert.That(blocks, Has.Count.EqualTo((int)shape["blocks"]!), "blocks");
            Assert.That(blocks.Select(b => b.Rows.Count), Is.All.EqualTo((int)shape["rows"]!), "calibration rows per block");
            Assert.That(blocks.Select(b => b.Columns.Count), Is.All.EqualTo((int)shape["columns"]!), "columns per block");
            Assert.That(blocks.All(b => b.Rows.All(r => b.Columns.All(c => b[r, c] is not null))), "every row has every column");
            if (shape["denseRows"] is { } dense)
                Assert.That(cells.Where(c => c.Method == "dense").Select(c => c.Model).Distinct().Count(), Is.EqualTo((int)dense), "dense rows");
            if (shape["withStd"] is { } std)
                Assert.That(blocks.Sum(b => b.Cells.Values.Count(c => c.Std is not null)), Is.EqualTo((int)std), "cells with a std");
            Assert.That(cells.All(c => c.Line > 0 && c.Paper == "002_cd42b15cafe639de.txt"), "provenance on every cell");
        });
    }

    static IEnumerable<TestCaseData> Spots() =>
        Expectations.Json("papers", "kurz", "checks.json")["spots"]!.AsArray()
            .Select(s => new TestCaseData(s!.AsObject()).SetArgDisplayNames($"{s!["file"]} {s["model"]} {s["method"]} {s["task"]} {s["language"]} {s["row"]}"));

    [TestCaseSource(nameof(Spots))]
    public void Spot_value_reads_as_printed(JsonObject spot)
    {
        var cell = PaperTables.Load(Expectations.PaperFile((string)spot["file"]!)).Where(c =>
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
}
