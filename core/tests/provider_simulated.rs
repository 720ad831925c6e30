//! The provider conformance suite against the simulated provider, alone and behind the
//! fault-injection double with no fault armed.

mod simulated {
    use tuneloop::testing::ProviderUnderTest;

    async fn fresh() -> ProviderUnderTest {
        ProviderUnderTest::simulated()
    }

    tuneloop::provider_conformance_tests!(fresh);
}

mod faulty_without_faults {
    use std::sync::Arc;
    use tuneloop::mcp::SimulatedProvider;
    use tuneloop::testing::{FaultyProvider, ProviderUnderTest};

    async fn fresh() -> ProviderUnderTest {
        let inner = Arc::new(SimulatedProvider::manual());
        ProviderUnderTest::new(Arc::new(FaultyProvider::new(inner.clone())), inner)
    }

    tuneloop::provider_conformance_tests!(fresh);
}
