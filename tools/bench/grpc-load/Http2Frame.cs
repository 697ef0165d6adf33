using System.Buffers.Binary;

namespace GrpcLoad;

/// <summary>HTTP/2 frame types, flags, settings and the 9-byte frame header (RFC 9113 §4.1, §6).</summary>
internal static class Http2Frame
{
    public const int HeaderLength = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value; the raw client never raises it, so no frame is larger.</summary>
    public const int MaxPayload = 16384;

    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte PushPromise = 0x5;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;

    public const byte FlagEndStream = 0x1;
    public const byte FlagAck = 0x1;
    public const byte FlagEndHeaders = 0x4;
    public const byte FlagPadded = 0x8;
    public const byte FlagPriority = 0x20;

    public const ushort SettingHeaderTableSize = 0x1;
    public const ushort SettingEnablePush = 0x2;
    public const ushort SettingMaxConcurrentStreams = 0x3;
    public const ushort SettingInitialWindowSize = 0x4;

    /// <summary>The client connection preface (§3.4).</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void WriteHeader(Span<byte> destination, int length, byte type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = type;
        destination[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(destination[5..], streamId & int.MaxValue);
    }

    public static int ReadLength(ReadOnlySpan<byte> header) => (header[0] << 16) | (header[1] << 8) | header[2];

    public static int ReadStreamId(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt32BigEndian(header[5..]) & int.MaxValue;

    /// <summary>A WINDOW_UPDATE frame (§6.9) of <paramref name="increment"/> for <paramref name="streamId"/>.</summary>
    public static byte[] WindowUpdateFrame(int streamId, int increment)
    {
        byte[] frame = new byte[HeaderLength + 4];
        WriteHeader(frame, 4, WindowUpdate, 0, streamId);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(HeaderLength), increment);
        return frame;
    }

    public static string ErrorName(uint code) => code switch
    {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        _ => "0x" + code.ToString("x", System.Globalization.CultureInfo.InvariantCulture),
    };
}
