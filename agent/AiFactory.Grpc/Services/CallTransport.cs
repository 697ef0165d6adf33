namespace AiFactory.Grpc.Services;

/// <summary>How a call reached the server, as far as who may have sent it is concerned.</summary>
public enum CallTransport
{
    /// <summary>A local transport (the Unix socket): the file's permissions decide who connects.</summary>
    Local,

    /// <summary>TCP without TLS (h2c): anyone who reaches the port, nobody identified.</summary>
    Insecure,

    /// <summary>TCP with TLS: the peer is identified only when it presented a client certificate the server accepted.</summary>
    Tls,
}
