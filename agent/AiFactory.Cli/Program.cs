using System.CommandLine;
using AiFactory.Cli;

ParseResult parse = CliApp.Build().Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        Console.Error.WriteLine("aifactoryctl: " + error.Message);
    }

    Console.Error.WriteLine("Try 'aifactoryctl --help'.");
    return ExitCodes.Usage;
}

// System.CommandLine's own handler would print "Unhandled exception:" and a stack trace: a full disk or a closed
// terminal under stdout (ENOSPC, EIO) is one line naming the error instead, and a bug one line naming the exception.
try
{
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (IOException ex)
{
    Console.Error.WriteLine("aifactoryctl: I/O error: " + ex.Message);
    return ExitCodes.IoError;
}
catch (OperationCanceledException)
{
    // Ctrl-C (System.CommandLine cancels the command's token): the shell's status for SIGINT, nothing printed.
    return 130;
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // A bug: one line and the exit status System.CommandLine's handler gave, not an abort with a core dump.
    Console.Error.WriteLine($"aifactoryctl: internal error: {ex.GetType().Name}: {ex.Message}");
    return ExitCodes.NotOk;
}
