using YamlDotNet.Core;

namespace AiFactory.Agent.Configuration;

/// <summary>A YAML document nested deeper than <see cref="YamlNesting.MaxDepth"/>; the message quotes nothing of the text.</summary>
internal sealed class YamlTooDeepException(Mark start, Mark end, int depth)
    : YamlException(start, end, $"nested deeper than {YamlNesting.MaxDepth} levels (a mapping or sequence at depth {depth} opens at line {start.Line}, column {start.Column}); nothing beyond was read")
{
    /// <summary>The depth at which the check stopped (<see cref="YamlNesting.MaxDepth"/> + 1).</summary>
    public int Depth { get; } = depth;
}
