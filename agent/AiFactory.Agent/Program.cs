using AiFactory.Agent;

return AgentCommandLine.Build().Parse(args).Invoke();
