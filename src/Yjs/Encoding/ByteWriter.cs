using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace CollabAkka.Yjs.Encoding;

/// <summary>
/// Growable lib0 encoder. The buffer is rented from the shared array pool and returned by
/// <see cref="Dispose"/>; <see cref="ToArray"/> copies the written bytes out.
/// </summary>
internal sealed class ByteWriter : IDisposable
{
    private byte[] _buf;
    private int _pos;

    public ByteWriter(int capacity = 256)
    {
        _buf = ArrayPool<byte>.Shared.Rent(Math.Max(16, capacity));
    }

    public int Length => _pos;

    public ReadOnlySpan<byte> WrittenSpan => _buf.AsSpan(0, _pos);

    public byte[] ToArray() => _buf.AsSpan(0, _pos).ToArray();

    public void Dispose()
    {
        var b = _buf;
        _buf = [];
        if (b.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    private void Grow(int needed)
    {
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buf.Length * 2, _pos + needed));
        _buf.AsSpan(0, _pos).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buf);
        _buf = next;
    }

    public void WriteByte(byte b)
    {
        if (_pos >= _buf.Length)
        {
            Grow(1);
        }
        _buf[_pos++] = b;
    }

    public void WriteVarUint(ulong value)
    {
        if (_pos + 10 > _buf.Length)
        {
            Grow(10);
        }
        var buf = _buf;
        var pos = _pos;
        while (value > 0x7F)
        {
            buf[pos++] = (byte)(0x80 | (value & 0x7F));
            value >>= 7;
        }
        buf[pos++] = (byte)value;
        _pos = pos;
    }

    public void WriteVarUint(long value) => WriteVarUint((ulong)value);

    /// <summary>lib0 var-int: first byte holds a continuation bit, a sign bit and 6 bits of magnitude.</summary>
    public void WriteVarInt(long magnitudeAndSign, bool negative)
    {
        ulong num = (ulong)magnitudeAndSign;
        WriteByte((byte)((num > 0x3F ? 0x80 : 0) | (negative ? 0x40 : 0) | (byte)(num & 0x3F)));
        num >>= 6;
        while (num > 0)
        {
            WriteByte((byte)((num > 0x7F ? 0x80 : 0) | (byte)(num & 0x7F)));
            num >>= 7;
        }
    }

    public void WriteVarInt(long value)
    {
        bool negative = value < 0;
        WriteVarInt(negative ? -value : value, negative);
    }

    public void WriteVarString(string s)
    {
        if (s.Length == 0)
        {
            WriteByte(0);
            return;
        }
        // Lone surrogates become U+FFFD, exactly as TextEncoder does.
        if (s.Length < 43)
        {
            // One pass: at most 3 bytes per UTF-16 unit, so the count fits one var-uint byte.
            if (_pos + 1 + (s.Length * 3) > _buf.Length)
            {
                Grow(1 + (s.Length * 3));
            }
            int n = Utf8.GetBytes(s, _buf.AsSpan(_pos + 1));
            _buf[_pos] = (byte)n;
            _pos += 1 + n;
            return;
        }
        int count = Utf8.GetByteCount(s);
        WriteVarUint((ulong)count);
        if (_pos + count > _buf.Length)
        {
            Grow(count);
        }
        _pos += Utf8.GetBytes(s, _buf.AsSpan(_pos));
    }

    public void WriteVarBytes(ReadOnlySpan<byte> bytes)
    {
        WriteVarUint((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (_pos + bytes.Length > _buf.Length)
        {
            Grow(bytes.Length);
        }
        bytes.CopyTo(_buf.AsSpan(_pos));
        _pos += bytes.Length;
    }

    public void WriteFloat32(float value)
    {
        if (_pos + 4 > _buf.Length)
        {
            Grow(4);
        }
        BinaryPrimitives.WriteSingleBigEndian(_buf.AsSpan(_pos), value);
        _pos += 4;
    }

    public void WriteFloat64(double value)
    {
        if (_pos + 8 > _buf.Length)
        {
            Grow(8);
        }
        BinaryPrimitives.WriteDoubleBigEndian(_buf.AsSpan(_pos), value);
        _pos += 8;
    }

    public void WriteBigInt64(BigInteger value)
    {
        if (_pos + 8 > _buf.Length)
        {
            Grow(8);
        }
        // BigInt64 wraps modulo 2^64 like DataView.setBigInt64.
        long v = (long)(ulong)(value & ulong.MaxValue);
        BinaryPrimitives.WriteInt64BigEndian(_buf.AsSpan(_pos), v);
        _pos += 8;
    }

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
}
