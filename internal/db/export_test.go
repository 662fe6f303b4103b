package db

// What the external tests (package db_test, which may import migrate)
// need of the package's insides.
var IsDuplicate = isDuplicate

const TimeLayout = timeLayout

var WithSyncWait = withSyncWait
