using System.Buffers;
using AiFactory.Grpc.Protocol;
using Grpc.Health.V1;

namespace AiFactory.Grpc.Tests.Protocol;

public class GrpcFramingTests
{
    [Fact]
    public void A_written_frame_reads_back_as_the_same_message()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteFrame(writer, new HealthCheckRequest { Service = "svc" }, 1024);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);

        Assert.True(GrpcFraming.TryReadFrame(ref buffer, 1024, out ReadOnlySequence<byte> payload));
        Assert.Equal("svc", HealthCheckRequest.Parser.ParseFrom(payload).Service);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void An_empty_message_is_a_header_with_length_zero()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteFrame(writer, new HealthCheckRequest(), 1024);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Two_frames_in_one_buffer_are_read_one_at_a_time()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteFrame(writer, new HealthCheckRequest { Service = "a" }, 1024);
        GrpcFraming.WriteFrame(writer, new HealthCheckRequest { Service = "b" }, 1024);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);

        Assert.True(GrpcFraming.TryReadFrame(ref buffer, 1024, out var first));
        Assert.True(GrpcFraming.TryReadFrame(ref buffer, 1024, out var second));
        Assert.False(GrpcFraming.TryReadFrame(ref buffer, 1024, out _));
        Assert.Equal("a", HealthCheckRequest.Parser.ParseFrom(first).Service);
        Assert.Equal("b", HealthCheckRequest.Parser.ParseFrom(second).Service);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 0, 3, 10, 1 })]
    public void A_truncated_frame_asks_for_more_bytes_and_consumes_nothing(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.False(GrpcFraming.TryReadFrame(ref buffer, 1024, out _));
        Assert.Equal(bytes.Length, buffer.Length);
    }

    [Fact]
    public void A_length_of_0xFFFFFFFF_is_refused_from_the_header_alone()
    {
        // Only the 5 header bytes: the refusal must not wait for (or buffer) the 4 GiB it announces.
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0xFF });
        RpcException ex = Assert.Throws<RpcException>(() => GrpcFraming.TryReadFrame(ref buffer, GrpcFraming.DefaultMaxMessageSize, out _));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("4294967295", ex.Detail);
    }

    [Fact]
    public void A_frame_one_byte_over_the_limit_is_resource_exhausted()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0x04, 0x01 });
        Assert.Equal(StatusCode.ResourceExhausted, Assert.Throws<RpcException>(() => GrpcFraming.TryReadFrame(ref buffer, 1024, out _)).StatusCode);
        var atLimit = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0x04, 0x00 });
        Assert.False(GrpcFraming.TryReadFrame(ref atLimit, 1024, out _));
    }

    [Fact]
    public void A_compressed_frame_is_unimplemented()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 1, 0, 0, 0, 1, 0 });
        Assert.Equal(StatusCode.Unimplemented, Assert.Throws<RpcException>(() => GrpcFraming.TryReadFrame(ref buffer, 1024, out _)).StatusCode);
    }

    [Fact]
    public void A_flag_byte_other_than_zero_or_one_is_internal()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x80, 0, 0, 0, 0 });
        Assert.Equal(StatusCode.Internal, Assert.Throws<RpcException>(() => GrpcFraming.TryReadFrame(ref buffer, 1024, out _)).StatusCode);
    }

    [Fact]
    public void A_header_split_across_segments_is_read()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteFrame(writer, new HealthCheckRequest { Service = "split" }, 1024);
        byte[] bytes = writer.WrittenSpan.ToArray();
        ReadOnlySequence<byte> buffer = Segments.Of(bytes[..2], bytes[2..6], bytes[6..]);

        Assert.True(GrpcFraming.TryReadFrame(ref buffer, 1024, out var payload));
        Assert.Equal("split", HealthCheckRequest.Parser.ParseFrom(payload).Service);
    }

    [Fact]
    public void Writing_a_message_over_the_limit_is_resource_exhausted_and_writes_nothing()
    {
        var writer = new ArrayBufferWriter<byte>();
        var ex = Assert.Throws<RpcException>(() => GrpcFraming.WriteFrame(writer, new HealthCheckRequest { Service = new string('x', 100) }, 50));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal(0, writer.WrittenCount);
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(byte[] bytes, long start)
        {
            Memory = bytes;
            RunningIndex = start;
        }

        public static ReadOnlySequence<byte> Of(params byte[][] parts)
        {
            var first = new Segments(parts[0], 0);
            Segments last = first;
            foreach (byte[] part in parts.Skip(1))
            {
                var next = new Segments(part, last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
