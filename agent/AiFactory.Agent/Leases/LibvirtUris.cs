using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The libvirt connections a lease may be attached through: the agent setting <c>libvirt-uris</c> (default
/// <c>qemu:///system</c>), compared byte for byte with what a client asks for. A URI names more than a hypervisor:
/// <c>qemu+ext:///system?command=…</c> makes libvirt run a program as the agent (root), <c>qemu+ssh://host/</c> opens
/// ssh to any host, and <c>test:///&lt;file&gt;</c> makes libvirt read (and quote in its errors) any file. So nothing a
/// client sends reaches <c>virConnectOpen</c> unless the operator listed it, and the URI stored with a lease is checked
/// again before it is reopened at release or expiry.
/// </summary>
internal sealed partial class LibvirtUris
{
    /// <summary>The setting's default: the system QEMU/KVM daemon.</summary>
    public static readonly LibvirtUris Default = new([LeaseService.DefaultLibvirtUri]);

    // Longest URI echoed back in a refusal: enough to recognise it, never a client's megabytes.
    private const int MaxShown = 120;

    public LibvirtUris(IReadOnlyList<string> allowed)
    {
        if (allowed.Count == 0)
        {
            throw new ArgumentException("at least one libvirt URI is needed", nameof(allowed));
        }

        Allowed = allowed;
    }

    /// <summary>The URIs allowed, in the setting's order; the first is used when a request gives none.</summary>
    public IReadOnlyList<string> Allowed { get; }

    /// <summary>The URI an attach without <c>libvirt_uri</c> goes through.</summary>
    public string First => Allowed[0];

    /// <summary>True when <paramref name="uri"/> is one of <see cref="Allowed"/> (ordinal, nothing normalised).</summary>
    public bool Allows(string uri) => Allowed.Contains(uri, StringComparer.Ordinal);

    /// <summary>
    /// Why <paramref name="uri"/> may not be opened, naming it (shortened and escaped) and the allowed list, for
    /// <c>INVALID_ARGUMENT</c> or a release's refusal; null when it is allowed.
    /// </summary>
    public string? Refusal(string uri) =>
        Allows(uri)
            ? null
            : $"\"{Show(uri)}\" is not a libvirt URI this agent opens for leases (allowed: {string.Join(", ", Allowed)}; agent setting libvirt-uris)";

    /// <summary>
    /// Why <paramref name="uri"/> cannot be a <c>libvirt-uris</c> entry, or null: an entry is a local driver URI,
    /// <c>driver:///path</c> (optionally <c>driver+unix:///path</c>), with no host, query, fragment or <c>..</c>.
    /// </summary>
    public static string? ConfigProblem(string uri) =>
        uri.Length == 0 ? "has an empty entry"
        : !LocalUri().IsMatch(uri) || uri.Contains("..", StringComparison.Ordinal)
            ? $"entry \"{Show(uri)}\" is not a local libvirt URI: give driver:///path (qemu:///system, qemu:///session, test:///default), " +
                "with no remote transport (+ssh, +tcp, +tls, +ext), host, query string (?socket=, ?command=) or fragment"
            : null;

    /// <summary><paramref name="value"/> shortened to <see cref="MaxShown"/> characters, control characters escaped.</summary>
    internal static string Show(string value)
    {
        var text = new StringBuilder();
        foreach (char c in value.Length > MaxShown ? value[..MaxShown] : value)
        {
            if (char.IsControl(c) || c == '"')
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                text.Append(c);
            }
        }

        return value.Length > MaxShown ? text.Append("…").ToString() : text.ToString();
    }

    [GeneratedRegex(@"^[a-z][a-z0-9]*(\+unix)?:///[A-Za-z0-9_./-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex LocalUri();
}
