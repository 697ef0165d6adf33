// The gRPC layer is built for Linux (Unix sockets, the daemon's platform); so are its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
