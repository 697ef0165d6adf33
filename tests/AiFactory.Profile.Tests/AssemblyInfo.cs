// The agent is a Linux daemon; so are its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
