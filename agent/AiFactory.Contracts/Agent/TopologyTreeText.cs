namespace AiFactory.Contracts.Agent.V1;

/// <summary>
/// Draws a <see cref="TopologyNode"/> tree as text with box-drawing branches, attributes after the label, sorted by
/// key. One drawing for both `aifactory-agent discover` (without --json) and `aifactoryctl topology`.
/// </summary>
public static class TopologyTreeText
{
    public static void Print(TextWriter output, TopologyNode root)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(root);
        output.WriteLine(Line(root));
        Children(output, root, string.Empty);
    }

    private static void Children(TextWriter output, TopologyNode node, string indent)
    {
        for (int i = 0; i < node.Children.Count; i++)
        {
            bool last = i == node.Children.Count - 1;
            output.WriteLine(indent + (last ? "└─ " : "├─ ") + Line(node.Children[i]));
            Children(output, node.Children[i], indent + (last ? "   " : "│  "));
        }
    }

    private static string Line(TopologyNode n) =>
        n.Attributes.Count == 0 ? n.Label : n.Label + "  " + string.Join(" ", n.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + "=" + a.Value));
}
