using System.Text;
using Federation.Core.Transport;
using Microsoft.Playwright;

namespace FederationHost.Tests;

/// <summary>
/// The status page at <c>/</c> in a real headless browser (Debian's chromium, driven by Playwright), against a running
/// host with a real in-memory link that has forwarded messages: what an operator sees, and the restart button.
/// </summary>
public sealed class StatusPageBrowserTests
{
    /// <summary>Debian's chromium package; Playwright's own browser download is never used.</summary>
    private const string Chromium = "/usr/bin/chromium";

    // Expect assertions poll the page until they hold; the page itself refreshes every 2 s.
    private static readonly LocatorAssertionsToHaveTextOptions Within = new() { Timeout = 20_000 };

    [Fact]
    public async Task The_page_shows_each_link_with_its_traffic_and_restarts_it_without_showing_a_secret()
    {
        Assert.True(File.Exists(Chromium),
            $"The status page test needs a headless browser at {Chromium}: install Debian's chromium package " +
            "(apt-get install --no-install-recommends chromium), as scripts/test.sh does.");

        var settings = RunningHost.DefaultSettings("page");
        // A second upstream whose vhost does not exist: its link stays in error, so the page has a failure to show.
        settings["Federation:Upstreams:broken:uri"] = $"memory://federator:{RunningHost.Secret}@page-remote/missing-vhost";
        await using var host = await RunningHost.StartAsync(settings);
        await using var local = await host.DeclareExchangeAsync("page-local", "federated.orders");
        await local.DeclareQueueAsync(new QueueSpec("desk"), CancellationToken.None);
        await local.BindAsync(new BindingSpec("federated.orders", "desk", BindingDestinationKind.Queue, "order.#"), noWait: false, CancellationToken.None);
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.Any(x => x.GetProperty("state").GetString() == "running") && l.Any(x => x.GetProperty("state").GetString() == "error"),
            "one running and one failed link");
        var running = links.Single(l => l.GetProperty("upstream").GetString() == "remote");
        var id = running.GetProperty("id").GetString()!;
        var brokenId = links.Single(l => l.GetProperty("upstream").GetString() == "broken").GetProperty("id").GetString()!;
        var remote = host.Brokers.GetOrAdd("page-remote");
        await Eventually.UntilAsync(() => Task.FromResult(remote.GetBindings("/", "federated.orders").Count), c => c >= 1, "the binding propagated upstream");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox"],
        });
        // No route to anything but the host: a page that needed a CDN would visibly break here.
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 360 } });
        var offHost = new List<string>();
        await context.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith(host.Http.BaseAddress!.ToString(), StringComparison.Ordinal))
            {
                await route.ContinueAsync();
            }
            else
            {
                offHost.Add(route.Request.Url);
                await route.AbortAsync();
            }
        });
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                consoleErrors.Add(message.Text);
            }
        };

        var response = await page.GotoAsync(host.Http.BaseAddress!.ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Contains("default-src 'none'", (await response.AllHeadersAsync())["content-security-policy"], StringComparison.Ordinal);

        var row = page.Locator($"tr[data-link-id=\"{id}\"]");
        await Assertions.Expect(row.Locator("[data-column=exchange]")).ToHaveTextAsync("federated.orders", Within);
        await Assertions.Expect(row.Locator("[data-column=upstream]")).ToHaveTextAsync("remote", Within);
        await Assertions.Expect(row.Locator("[data-column=state]")).ToHaveTextAsync("running", Within);
        await Assertions.Expect(row.Locator("[data-column=error]")).ToHaveTextAsync("—", Within);
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Restart the link from remote to federated.orders" })).ToBeEnabledAsync();
        var since = await row.Locator("[data-column=since]").GetAttributeAsync("title");
        Assert.Equal(running.GetProperty("since").GetString(), since);

        var broken = page.Locator($"tr[data-link-id=\"{brokenId}\"]");
        await Assertions.Expect(broken.Locator("[data-column=upstream]")).ToHaveTextAsync("broken", Within);
        await Assertions.Expect(broken.Locator("[data-column=state]")).ToHaveTextAsync("error", Within);
        await Assertions.Expect(broken.Locator("[data-column=error]")).Not.ToHaveTextAsync("—", Within);
        await Assertions.Expect(page.Locator("#summary")).ToContainTextAsync("2 links, 1 running.", new() { Timeout = 20_000 });

        // Traffic: messages published upstream are forwarded; the page shows a non-zero forwarded rate.
        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        for (var i = 0; i < 20; i++)
        {
            await publisher.PublishAsync("federated.orders", "order.created", new MessageProperties(), Encoding.UTF8.GetBytes($"order {i}"), CancellationToken.None);
        }

        await Assertions.Expect(row.Locator("[data-column=forwarded]")).Not.ToHaveTextAsync("0.0", new() { Timeout = 20_000 });
        await Assertions.Expect(row.Locator("[data-column=forwarded]")).ToHaveAttributeAsync("title", "20 forwarded since the host started", new() { Timeout = 20_000 });
        await Assertions.Expect(row.Locator("[data-column=dropped]")).ToHaveTextAsync("0.0", Within);

        // A screenshot, taken while the rate shows traffic: next to the test binary, or where STATUS_PAGE_SCREENSHOT says
        // (STATUS_PAGE_SCREENSHOT=docs/status-page.png refreshes the README's picture) so a test run never dirties the tree.
        var screenshot = Path.GetFullPath(Environment.GetEnvironmentVariable("STATUS_PAGE_SCREENSHOT") is { Length: > 0 } target
            ? Path.Combine(RepositoryRoot(), target)
            : Path.Combine(AppContext.BaseDirectory, "status-page.png"));
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });

        // Restart: the button asks the host, the page says so, and the refreshed row shows the link running again since later.
        await row.GetByRole(AriaRole.Button, new() { Name = "Restart the link from remote to federated.orders" }).ClickAsync();
        await Assertions.Expect(page.Locator("#notice")).ToHaveTextAsync("Restart requested for the link from remote to federated.orders.", Within);
        await Assertions.Expect(row.Locator("[data-column=since]")).Not.ToHaveAttributeAsync("title", since!, new() { Timeout = 20_000 });
        await Assertions.Expect(row.Locator("[data-column=state]")).ToHaveTextAsync("running", Within);

        var seen = await page.ContentAsync() + await page.Locator("body").InnerTextAsync();
        Assert.DoesNotContain(RunningHost.Secret, seen, StringComparison.Ordinal);
        Assert.DoesNotContain("federator", seen, StringComparison.Ordinal);
        Assert.Empty(offHost);
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task A_host_that_never_reached_its_downstream_says_why_it_lists_no_link_without_showing_a_secret()
    {
        Assert.True(File.Exists(Chromium), $"The status page test needs a headless browser at {Chromium}: install Debian's chromium package.");

        // Nobody registers the in-memory downstream: the host never reaches it, and links follow its exchanges.
        var settings = RunningHost.DefaultSettings("page-down");
        settings["Host:CreateInMemoryBrokers"] = "false";
        settings["Federation:Downstream:uri"] = $"memory://federator:{RunningHost.Secret}@nowhere/%2f";
        await using var host = await RunningHost.StartAsync(settings);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(host.Http.BaseAddress!.ToString());

        var empty = page.Locator("#empty");
        await Assertions.Expect(empty).ToBeVisibleAsync(new() { Timeout = 20_000 });
        await Assertions.Expect(empty).ToContainTextAsync("No federation links known: The downstream broker is not connected: ", new() { Timeout = 20_000 });
        await Assertions.Expect(empty).ToContainTextAsync("No in-memory broker named 'nowhere'", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("#summary")).ToContainTextAsync("0 links, 0 running.", new() { Timeout = 20_000 });
        var seen = await page.ContentAsync() + await page.Locator("body").InnerTextAsync();
        Assert.DoesNotContain(RunningHost.Secret, seen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_with_broker_instances_only_shows_them_instead_of_an_empty_link_table()
    {
        Assert.True(File.Exists(Chromium), $"The status page test needs a headless browser at {Chromium}: install Debian's chromium package.");

        var settings = new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = $"memory://broker:{RunningHost.Secret}@page-brokers-federation",
            ["FederationBrokers:london:CollectiveUri"] = "memory://page-brokers-london",
            ["FederationBrokers:london:InstanceName"] = "london-1",
            // Never connects (nobody registers it, and nothing creates it): the page shows why.
            ["FederationBrokers:tokyo:FederationUri"] = $"nats://broker:{RunningHost.Secret}@127.0.0.1:1",
            ["FederationBrokers:tokyo:CollectiveUri"] = "memory://page-brokers-tokyo",
            ["FederationBrokers:tokyo:InstanceName"] = "tokyo-1",
        };
        await using var host = await RunningHost.StartAsync(settings);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        var failed = new List<string>();
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                failed.Add($"{response.Status} {new Uri(response.Url).AbsolutePath}");
            }
        };
        await page.GotoAsync(host.Http.BaseAddress!.ToString());

        var london = page.Locator("tr[data-broker=\"london\"]");
        await Assertions.Expect(london.Locator("[data-column=instance]")).ToHaveTextAsync("london-1", Within);
        await Assertions.Expect(london.Locator("[data-column=state]")).ToHaveTextAsync("connected", Within);
        await Assertions.Expect(london.Locator("[data-column=federation_uri]")).ToHaveTextAsync("memory://page-brokers-federation", Within);
        var tokyo = page.Locator("tr[data-broker=\"tokyo\"]");
        await Assertions.Expect(tokyo.Locator("[data-column=state]")).ToHaveTextAsync("connecting", Within);
        await Assertions.Expect(tokyo.Locator("[data-column=problem]")).Not.ToHaveTextAsync("—", Within);
        await Assertions.Expect(page.Locator("#summary")).ToContainTextAsync("2 broker instances, 1 connected.", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("#links")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#empty")).ToBeHiddenAsync();

        var seen = await page.ContentAsync() + await page.Locator("body").InnerTextAsync();
        Assert.DoesNotContain(RunningHost.Secret, seen, StringComparison.Ordinal);
        // /health answers 503 while tokyo is not connected (the browser's own favicon request is 404); no endpoint the page reads fails.
        Assert.True(failed.All(f => f is "503 /health" or "404 /favicon.ico"), string.Join("\n", failed));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Federation.Core.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Federation.Core.sln above {AppContext.BaseDirectory}.");
    }
}
