using System.Security.Cryptography;

namespace Qlaw.Data;

/// <summary>
/// UUIDv7 ids that increase strictly within this process, even within one millisecond (<see cref="Guid.CreateVersion7()"/>
/// is random there), so ordering rows by id is ordering them by creation and keyset pages are stable.
/// </summary>
public static class TimeOrderedId
{
    private static readonly Lock Gate = new();
    private static long _lastMilliseconds;
    private static int _counter;

    /// <summary>A new id later than every id this process made before.</summary>
    public static Guid New(TimeProvider? clock = null)
    {
        var now = (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();
        long milliseconds;
        int counter;
        lock (Gate)
        {
            if (now > _lastMilliseconds)
            {
                _lastMilliseconds = now;
                _counter = RandomNumberGenerator.GetInt32(0x800);
            }
            else if (++_counter > 0xFFF)
            {
                _lastMilliseconds++;
                _counter = 0;
            }

            milliseconds = _lastMilliseconds;
            counter = _counter;
        }

        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[8..]);
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(milliseconds >> (8 * (5 - i)));
        }

        bytes[6] = (byte)(0x70 | (counter >> 8));
        bytes[7] = (byte)counter;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
