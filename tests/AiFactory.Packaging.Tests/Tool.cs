using System.Diagnostics;
using System.Text;

namespace AiFactory.Packaging.Tests;

/// <summary>The outcome of one external command.</summary>
internal sealed record ToolResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    /// <summary>Throws with the command, its status and its output unless it exited with 0.</summary>
    public ToolResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"`{Command}` exited with {ExitCode}:\n{Stdout}\n{Stderr}");
        }

        return this;
    }
}

/// <summary>Runs external commands (the packaging tools, the build and lab scripts) and captures their output.</summary>
internal static class Tool
{
    public static ToolResult Run(string file, IEnumerable<string> arguments, string? workingDirectory = null, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repository.Root,
        };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach ((string k, string v) in environment)
            {
                start.Environment[k] = v;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + file);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(20)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{file} {string.Join(' ', arguments)}` did not finish in {timeout}");
        }

        process.WaitForExit();
        return new ToolResult($"{file} {string.Join(' ', arguments)}", process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static ToolResult Run(string file, params string[] arguments) => Run(file, (IEnumerable<string>)arguments);

    /// <summary>True when the command is on PATH.</summary>
    public static bool Exists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => d.Length > 0 && File.Exists(System.IO.Path.Combine(d, name)));
}
