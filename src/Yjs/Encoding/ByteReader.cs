using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace CollabAkka.Yjs.Encoding;

/// <summary>
/// Bounds-checked lib0 decoder over a byte array. Every failure is a <see cref="YjsDecodeException"/>;
/// lengths read from the input are checked against the bytes left before anything is allocated.
/// </summary>
internal sealed class ByteReader
{
    private const ulong MaxSafeInteger = (1UL << 53) - 1;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _buf;
    private readonly int _end;
    private int _pos;

    public ByteReader(byte[] buffer) : this(buffer, 0, buffer.Length) { }

    public ByteReader(byte[] buffer, int start, int end)
    {
        _buf = buffer;
        _pos = start;
        _end = end;
    }

    public int Position => _pos;

    /// <summary>Deepest nesting of containers a value read from here may have (see <see cref="YLimits"/>).</summary>
    public int MaxDepth { get; init; } = YLimits.MaxSupportedDepth;

    public int Remaining => _end - _pos;

    public bool HasContent => _pos < _end;

    public YjsDecodeException Error(string message) => new($"{message} (at byte {_pos})") { Offset = _pos };

    public byte ReadByte()
    {
        if (_pos >= _end)
        {
            throw Error("Unexpected end of update");
        }
        return _buf[_pos++];
    }

    public ulong ReadVarUint()
    {
        ulong num = 0;
        int shift = 0;
        while (_pos < _end)
        {
            byte r = _buf[_pos++];
            if (shift >= 56)
            {
                throw Error("Integer out of range");
            }
            num |= (ulong)(r & 0x7F) << shift;
            if (r < 0x80)
            {
                if (num > MaxSafeInteger)
                {
                    throw Error("Integer out of range");
                }
                return num;
            }
            shift += 7;
        }
        throw Error("Unexpected end of update");
    }

    /// <summary>Reads a var-uint that must fit an <see cref="int"/> (clocks, lengths, counts).</summary>
    public int ReadVarUintAsInt()
    {
        ulong v = ReadVarUint();
        if (v > int.MaxValue)
        {
            throw Error("Length or clock out of range");
        }
        return (int)v;
    }

    /// <summary>Reads a lib0 var-int as a JS number (may be -0).</summary>
    public double ReadVarInt()
    {
        byte r = ReadByte();
        ulong num = (ulong)(r & 0x3F);
        bool negative = (r & 0x40) != 0;
        int shift = 6;
        if ((r & 0x80) != 0)
        {
            while (true)
            {
                if (_pos >= _end)
                {
                    throw Error("Unexpected end of update");
                }
                r = _buf[_pos++];
                if (shift >= 55)
                {
                    throw Error("Integer out of range");
                }
                num |= (ulong)(r & 0x7F) << shift;
                shift += 7;
                if (r < 0x80)
                {
                    break;
                }
            }
            if (num > MaxSafeInteger)
            {
                throw Error("Integer out of range");
            }
        }
        double d = num;
        return negative ? -d : d;
    }

    public ReadOnlySpan<byte> ReadSpan(int length)
    {
        if (length < 0 || length > _end - _pos)
        {
            throw Error("Length field exceeds the update");
        }
        var span = _buf.AsSpan(_pos, length);
        _pos += length;
        return span;
    }

    public ReadOnlySpan<byte> ReadVarBytesSpan()
    {
        ulong len = ReadVarUint();
        if (len > (ulong)(_end - _pos))
        {
            throw Error("Length field exceeds the update");
        }
        return ReadSpan((int)len);
    }

    public byte[] ReadVarBytes() => ReadVarBytesSpan().ToArray();

    public string ReadVarString()
    {
        var span = ReadVarBytesSpan();
        if (span.Length == 0)
        {
            return string.Empty;
        }
        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException e)
        {
            throw new YjsDecodeException($"Invalid UTF-8 in string (at byte {_pos})", e) { Offset = _pos };
        }
    }

    public float ReadFloat32() => BinaryPrimitives.ReadSingleBigEndian(ReadSpan(4));

    public double ReadFloat64() => BinaryPrimitives.ReadDoubleBigEndian(ReadSpan(8));

    public BigInteger ReadBigInt64() => new(BinaryPrimitives.ReadInt64BigEndian(ReadSpan(8)));
}
