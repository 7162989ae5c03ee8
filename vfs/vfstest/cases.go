package vfstest

// Cases returns the conformance cases, in order.
func Cases() []Case {
	var out []Case
	for _, group := range [][]Case{
		namespaceCases(),
		ioCases(),
		dirCases(),
		attrCases(),
		xattrCases(),
		permCases(),
	} {
		out = append(out, group...)
	}
	return out
}
