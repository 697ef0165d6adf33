using System.CommandLine;
using AiFactory.Agent;

ParseResult parse = AgentCommandLine.Build().Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        Console.Error.WriteLine("aifactory-agent: " + error.Message);
    }

    Console.Error.WriteLine("Try 'aifactory-agent --help'.");
    return AgentCommandLine.ExitUsage;
}

return parse.Invoke();
