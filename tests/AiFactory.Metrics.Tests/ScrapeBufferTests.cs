using System.Buffers;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Metrics.Tests;

/// <summary>
/// A scrape's buffer comes from the scraper's own pool, sized from the last scrape: one array per scrape once the size
/// is known, all of them given back, and none left in the process-wide shared pool.
/// </summary>
public sealed class ScrapeBufferTests
{
    [Fact]
    public void After_the_first_scrape_each_scrape_takes_one_array_of_the_right_size_and_gives_it_back()
    {
        var pool = new CountingPool();
        MetricsScraper scraper = FullMigHost(pool);

        int first;
        using (PooledBuffer buffer = scraper.Scrape(ExpositionFormat.Text004))
        {
            first = buffer.Length;
        }

        Assert.True(first > 64 * 1024, $"the 56-instance host's scrape is {first} bytes");
        Assert.True(pool.Rents > 1, "the first scrape grows from 16 KiB");
        Assert.Equal(pool.Rents, pool.Returns);

        int previous = first;
        for (int scrape = 0; scrape < 5; scrape++)
        {
            int rentsBefore = pool.Rents;
            using (PooledBuffer buffer = scraper.Scrape(ExpositionFormat.Text004))
            {
                // The same series; only the collector durations' digits differ from scrape to scrape.
                Assert.InRange(buffer.Length, first - 256, first + 256);
                Assert.Equal(rentsBefore + 1, pool.Rents);
                Assert.InRange(pool.LastRequested, previous, previous + (previous / 8));
                previous = buffer.Length;
            }
        }

        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public void A_buffer_gives_its_arrays_back_to_the_pool_it_came_from()
    {
        var pool = new CountingPool();
        using (var buffer = new PooledBuffer(16, pool))
        {
            buffer.Write(new byte[100]);
            buffer.Write(new byte[1000]);
        }

        Assert.Equal(3, pool.Rents);
        Assert.Equal(3, pool.Returns);
    }

    private static MetricsScraper FullMigHost(ArrayPool<byte> pool)
    {
        var options = Scrapes.Options;
        return new MetricsScraper(
            [new GpuCollector(options), new PciDeviceCollector(), new NumaCollector(), new LeaseCollector()],
            new StaticNodeSource(DgxH100.Node(vfioGpus: 0)),
            new StaticLeaseSource(DgxH100.Leases(vfioGpus: 0)),
            new StaticGpuSource(DgxH100.Gpus(vfioGpus: 0)),
            NullLogger.Instance,
            pool);
    }

    private sealed class CountingPool : ArrayPool<byte>
    {
        public int Rents { get; private set; }

        public int Returns { get; private set; }

        public int LastRequested { get; private set; }

        public override byte[] Rent(int minimumLength)
        {
            Rents++;
            LastRequested = minimumLength;
            return new byte[minimumLength];
        }

        public override void Return(byte[] array, bool clearArray = false) => Returns++;
    }
}
