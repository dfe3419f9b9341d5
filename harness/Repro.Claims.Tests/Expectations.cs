using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core;

namespace Repro.Claims.Tests;

/// <summary>Reads the reviewed data files the tests assert against; numbers live there, not in test code.</summary>
static class Expectations
{
    public static JsonNode Json(params string[] path) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine([RepoPaths.Expectations, .. path])), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;

    public static string PaperFile(string file) => Path.Combine(RepoPaths.Expectations, "papers", "kurz", file);
}
