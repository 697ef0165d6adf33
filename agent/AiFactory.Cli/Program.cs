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

return await parse.InvokeAsync().ConfigureAwait(false);
