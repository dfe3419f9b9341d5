namespace Repro.Core.Fixtures;

/// <summary>
/// One document as a source gives it, before cleaning: a section of the Debian handbook or a group of UDHR
/// articles, in one language. <paramref name="Id"/> is the same in every language's edition of the source
/// (the section's anchor, the article numbers), so parallel documents share <see cref="Key"/> and the split
/// that the key decides: a passage never sits in one language's training text and another's test text.
/// </summary>
public sealed record SourceDocument(string Source, string Id, string Language, IReadOnlyList<string> Paragraphs)
{
    /// <summary>Language-independent name of the document: <c>{source}:{id}</c>.</summary>
    public string Key => $"{Source}:{Id}";
}
