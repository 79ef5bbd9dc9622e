import { DefaultLogger, Runtime } from '@temporalio/worker';

// Worker state changes at INFO would bury test failures; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger((process.env.MAILMEND_TEST_SDK_LOG as 'WARN') ?? 'WARN') });
