using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// The one nesting limit for every YAML the agent reads (agent.yaml, node profiles, mig-parted configs), checked
/// before the document is loaded: YamlDotNet's <c>YamlStream.Load</c> takes time quadratic in the depth (20,000 levels
/// of <c>[[[…</c>, 40 KB, took 16 s), and a profile arrives from unauthenticated clients of <c>PlanProfile</c>. The
/// check walks YamlDotNet's parser events, counting open mappings and sequences (flow brackets and block indentation
/// alike), and stops at the first one past <see cref="MaxDepth"/>, so it costs time linear in what it has read.
/// </summary>
internal static class YamlNesting
{
    /// <summary>The deepest a mapping or sequence may lie; the agent's own files need fewer than ten.</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Throws <see cref="YamlTooDeepException"/> (a <see cref="YamlException"/>, so callers report it as they report a
    /// syntax error, with its line) when <paramref name="text"/> nests deeper than <see cref="MaxDepth"/>, and
    /// <see cref="YamlException"/> for a syntax error found on the way.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked every 1,024 events).</exception>
    public static void Check(string text, CancellationToken cancellationToken = default)
    {
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        long events = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case MappingStart or SequenceStart:
                    if (++depth > MaxDepth)
                    {
                        throw new YamlTooDeepException(parser.Current.Start, parser.Current.End, depth);
                    }

                    break;
                case MappingEnd or SequenceEnd:
                    depth--;
                    break;
            }

            if ((++events & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }
}
