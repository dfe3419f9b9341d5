namespace Repro.Core.Tokenizers;

/// <summary>
/// The BPE merge loop of Hugging Face's tokenizers and of SentencePiece: of all adjacent symbol pairs that may merge,
/// merge the one of best priority, and among equals the leftmost; repeat until none may. <c>(PPP)</c> with the merge
/// <c>P P</c> gives <c>PP</c> + <c>P</c>, never <c>P</c> + <c>PP</c> (Microsoft.ML.Tokenizers 2.0.1 merges a tied pair
/// from the right, which changes ids and sometimes the token count). A heap of candidate pairs ordered by
/// (priority, position) over a linked list of symbols: O(n log n) in the symbols of a word.
/// </summary>
public static class BpeMergeLoop
{
    /// <summary>
    /// Merges <paramref name="symbols"/>; <paramref name="priority"/> gives a pair's priority (lower merges first) or null
    /// when the pair may not merge. The merged symbol is the concatenation.
    /// </summary>
    public static List<string> Merge(IReadOnlyList<string> symbols, Func<string, string, double?> priority)
    {
        var n = symbols.Count;
        if (n < 2) return [.. symbols];
        var text = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (var i = 0; i < n; i++) (next[i], prev[i], alive[i]) = (i + 1 < n ? i + 1 : -1, i - 1, true);

        var heap = new PriorityQueue<(int Left, string A, string B), (double, int)>();
        void Offer(int left)
        {
            if (left < 0 || next[left] < 0) return;
            var (a, b) = (text[left], text[next[left]]);
            if (priority(a, b) is { } p) heap.Enqueue((left, a, b), (p, left));
        }
        for (var i = 0; i + 1 < n; i++) Offer(i);

        while (heap.TryDequeue(out var pair, out _))
        {
            var left = pair.Left;
            // Stale when either side has merged since the pair was offered: its text changed, or the left one is gone.
            if (!alive[left] || next[left] < 0 || !ReferenceEquals(text[left], pair.A) || !ReferenceEquals(text[next[left]], pair.B)) continue;
            var right = next[left];
            text[left] = pair.A + pair.B;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            Offer(prev[left]);
            Offer(left);
        }

        var merged = new List<string>();
        for (var i = 0; i >= 0; i = next[i]) merged.Add(text[i]);
        return merged;
    }
}
