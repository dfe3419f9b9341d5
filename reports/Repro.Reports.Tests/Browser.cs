using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Repro.Reports.Tests;

/// <summary>
/// Debian's Chromium and ChromeDriver (packages <c>chromium</c>, <c>chromium-driver</c>), headless. <c>.ci/run</c>
/// installs them; where they are missing the browser tests are skipped with that reason, or fail when
/// <c>REPRO_REQUIRE_BROWSER=1</c> says the browser must be there (CI sets it once the install succeeded).
/// </summary>
static class Browser
{
    public const string Binary = "/usr/bin/chromium";
    public const string Driver = "/usr/bin/chromedriver";

    public static ChromeDriver Start(int width = 1400, int height = 1000)
    {
        var missing = new[] { Binary, Driver }.Where(p => !File.Exists(p)).ToList();
        if (missing.Count > 0)
        {
            var reason = $"the browser test needs {string.Join(" and ", missing)} (apt-get install chromium chromium-driver; .ci/run does it)";
            if (Environment.GetEnvironmentVariable("REPRO_REQUIRE_BROWSER") == "1") Assert.Fail(reason + ", and REPRO_REQUIRE_BROWSER=1 requires it");
            Assert.Ignore(reason);
        }
        var options = new ChromeOptions { BinaryLocation = Binary };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--window-size={width},{height}",
                             "--allow-file-access-from-files");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
    }

    /// <summary>A screenshot of the whole page: the window grows to the page's height (up to a limit) first.</summary>
    public static void SaveFullPage(ChromeDriver driver, string path, int maxHeight = 12000)
    {
        var height = Convert.ToInt32(driver.ExecuteScript("return document.documentElement.scrollHeight"), System.Globalization.CultureInfo.InvariantCulture);
        driver.Manage().Window.Size = new System.Drawing.Size(1400, Math.Min(maxHeight, Math.Max(600, height)));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        driver.GetScreenshot().SaveAsFile(path);
    }
}
