using NUnit.Framework.Interfaces;
using TorchSharp;

namespace Repro.Methods.Tests;

/// <summary>
/// Runs a fixture with one intra-op torch thread and restores the previous count afterwards.
/// The OBS sweeps issue thousands of tiny ops; on the 2-core CI box under load, each multi-threaded
/// reduction or LAPACK call waited milliseconds for its second thread (a 16 × 64 SparseGPT took
/// 42 ms with 2 threads, 5 ms with 1), so these tests would spend most of their time synchronising.
/// Results do not depend on it beyond float summation order, which the tolerances already cover.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class SingleTorchThreadAttribute : Attribute, ITestAction
{
    int previous;

    public ActionTargets Targets => ActionTargets.Suite;

    public void BeforeTest(ITest test)
    {
        previous = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    public void AfterTest(ITest test) => torch.set_num_threads(previous);
}
