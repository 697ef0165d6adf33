using AiFactory.Grpc;
using AiFactory.Grpc.Services;

namespace AiFactory.Agent.Api.Access;

/// <summary>
/// Who may call what (<see cref="Grpc.Server.GrpcServerOptions.Authorize"/>). The Unix socket serves everything: only
/// root (and the socket's group) can connect to it. Over TCP, a client whose certificate the TLS handshake validated
/// against <c>tls.client-ca</c> is served everything too; any other TCP client (no <c>tls.client-ca</c> configured,
/// or <c>listen-plaintext</c>) gets the read-only methods of <see cref="MethodAccessTable"/> and PERMISSION_DENIED for
/// the rest, with the reason.
/// </summary>
internal sealed class CallAuthorizer(bool clientCertificatesConfigured)
{
    /// <summary>Null to let the call through; the refusal otherwise.</summary>
    public RpcException? Authorize(ServerCallContext context)
    {
        AuthContext auth = context.AuthContext;
        if (auth.Transport == CallTransport.Local || auth.IsPeerAuthenticated)
        {
            return null;
        }

        if (MethodAccessTable.Methods.TryGetValue(context.Method, out MethodAccess access) && access == MethodAccess.ReadOnly)
        {
            return null;
        }

        // Only served methods get here (an unknown path is UNIMPLEMENTED first); one missing from the table is refused.
        string what = MethodAccessTable.Methods.ContainsKey(context.Method) ? "changes this node" : "is not classified as read-only";
        return auth.Transport switch
        {
            CallTransport.Insecure => new RpcException(StatusCode.PermissionDenied,
                $"{context.Method} {what}; this TCP listener has no TLS (listen-plaintext) and serves read-only methods only: call it over the Unix socket, or over TLS with a client certificate (tls.client-ca)"),
            _ when clientCertificatesConfigured => new RpcException(StatusCode.Unauthenticated,
                $"{context.Method} {what} and needs a client certificate signed by tls.client-ca"),
            _ => new RpcException(StatusCode.PermissionDenied,
                $"{context.Method} {what}; client certificates are not configured on this agent (tls.client-ca), so its TCP listener serves read-only methods only: call it over the Unix socket, or configure tls.client-ca and call with a client certificate"),
        };
    }
}
