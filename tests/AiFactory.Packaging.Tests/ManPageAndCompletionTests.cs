using System.IO.Compression;
using System.Text.RegularExpressions;

namespace AiFactory.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed partial class ManPageAndCompletionTests(BuiltPackages packages)
{
    private string ManPage(string path)
    {
        using var gz = new GZipStream(File.OpenRead(packages.DebFile(path)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        return reader.ReadToEnd();
    }

    [Theory]
    [InlineData("usr/share/man/man8/aifactory-agent.8.gz", "aifactory-agent")]
    [InlineData("usr/share/man/man1/aifactoryctl.1.gz", "aifactoryctl")]
    public void Each_man_page_lists_every_option_of_the_binarys_help(string page, string binary)
    {
        string help = Tool.Run(Path.Combine(packages.PublishDir, binary), "--help").EnsureSuccess().Stdout;
        string[] options = LongOption().Matches(help).Select(m => m.Value).Distinct().ToArray();
        string man = ManPage(page);

        Assert.NotEmpty(options);
        Assert.All(options, o => Assert.Contains(o, man, StringComparison.Ordinal));
        Assert.Contains(".TH " + binary.ToUpperInvariant() + " ", man, StringComparison.Ordinal);
        Assert.Contains(packages.Version, man, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cli_man_page_documents_every_command()
    {
        string help = Tool.Run(Path.Combine(packages.PublishDir, "aifactoryctl"), "--help").EnsureSuccess().Stdout;
        string[] commands = help[help.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Trim().Length > 0).Select(l => l.Trim().Split(' ')[0]).ToArray();
        string man = ManPage("usr/share/man/man1/aifactoryctl.1.gz");

        Assert.Contains("health", commands);
        Assert.All(commands, c => Assert.Contains(".SS aifactoryctl " + c + "\n", man, StringComparison.Ordinal));
    }

    [Fact]
    public void Man_renders_both_pages_without_warnings()
    {
        if (!Tool.Exists("man"))
        {
            Assert.Fail("man is missing (package man-db): lintian needs it as well");
        }

        foreach (string page in new[] { "usr/share/man/man8/aifactory-agent.8.gz", "usr/share/man/man1/aifactoryctl.1.gz" })
        {
            ToolResult man = Tool.Run("man", ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", packages.DebFile(page)],
                environment: new Dictionary<string, string> { ["MANROFFSEQ"] = string.Empty, ["MANWIDTH"] = "80" });

            Assert.Equal(0, man.ExitCode);
            Assert.True(man.Stderr.Length == 0, man.Stderr);
        }
    }

    [Theory]
    [InlineData("aifactoryctl he", "health")]
    [InlineData("aifactoryctl ", "version")]
    [InlineData("aifactoryctl health --js", "--json")]
    public void Bash_completion_asks_the_binary_for_suggestions(string line, string expected)
    {
        string script = $$"""
            PATH={{packages.PublishDir}}:$PATH
            . {{packages.DebFile("usr/share/bash-completion/completions/aifactoryctl")}}
            COMP_LINE='{{line}}'; COMP_POINT=${#COMP_LINE}
            read -r -a COMP_WORDS <<< "$COMP_LINE"
            [ "${COMP_LINE: -1}" = " " ] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _aifactoryctl
            printf '%s\n' "${COMPREPLY[@]}"
            """;

        ToolResult bash = Tool.Run("bash", "-c", script).EnsureSuccess();

        Assert.Contains(expected, bash.Stdout.Split('\n'));
    }

    [Fact]
    public void The_shipped_agent_yaml_documents_every_setting_of_the_daemon()
    {
        string help = Tool.Run(Path.Combine(packages.PublishDir, "aifactory-agent"), "--help").EnsureSuccess().Stdout;
        string yaml = File.ReadAllText(packages.DebFile("etc/aifactory/agent.yaml"));
        string[] keys = LongOption().Matches(help).Select(m => m.Value[2..])
            .Where(k => k is not ("config" or "help" or "version")).Distinct().ToArray();

        // tls-certificate and tls-key are nested under tls: in YAML ("#   certificate:").
        string[] undocumented = keys.Where(k => k.StartsWith("tls-", StringComparison.Ordinal)
            ? !yaml.Contains("#   " + k["tls-".Length..] + ":", StringComparison.Ordinal)
            : !yaml.Contains("# " + k + ":", StringComparison.Ordinal)).ToArray();

        Assert.Contains("state-dir", keys);
        Assert.Empty(undocumented);
    }

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z-]+")]
    private static partial Regex LongOption();
}
