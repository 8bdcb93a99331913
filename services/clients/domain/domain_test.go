package domain

import (
	"errors"
	"testing"
)

func TestValidBSN(t *testing.T) {
	// 111222333: 9·1+8·1+7·1+6·2+5·2+4·2+3·3+2·3−1·3 = 9+8+7+12+10+8+9+6−3 = 66 = 6·11.
	// 123456782: 9+16+21+24+25+24+21+16−2 = 154 = 14·11.
	for _, ok := range []string{"111222333", "123456782"} {
		if !ValidBSN(ok) {
			t.Errorf("%s should pass the eleven-test", ok)
		}
	}
	// 123456789: 9+16+21+24+25+24+21+16−9 = 147, not a multiple of 11.
	for _, bad := range []string{"123456789", "111222334", "12345678", "1234567890", "12345678a", "", "000000000"} {
		if ValidBSN(bad) {
			t.Errorf("%q should fail the eleven-test", bad)
		}
	}
}

func TestMaskBSN(t *testing.T) {
	if got := MaskBSN("111222333"); got != "******333" {
		t.Errorf("MaskBSN = %q", got)
	}
}

func TestTransitions(t *testing.T) {
	allowed := map[[2]Phase]bool{
		{Referral, Intake}: true, {Intake, JobSearch}: true, {JobSearch, Employed}: true,
		{Employed, FollowAlong}: true, {Employed, JobSearch}: true, {FollowAlong, JobSearch}: true,
		{FollowAlong, Employed}: true, {Closed, Intake}: true,
		{Referral, Closed}: true, {Intake, Closed}: true, {JobSearch, Closed}: true, {Employed, Closed}: true, {FollowAlong, Closed}: true,
	}
	phases := []Phase{Referral, Intake, JobSearch, Employed, FollowAlong, Closed}
	for _, from := range phases {
		for _, to := range phases {
			err := CheckTransition(from, to, "moved away")
			if allowed[[2]Phase{from, to}] != (err == nil) {
				t.Errorf("%s → %s: err = %v", from, to, err)
			}
			if err != nil && !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("%s → %s: error %v does not wrap ErrInvalidTransition", from, to, err)
			}
		}
	}
	if err := CheckTransition(JobSearch, Closed, " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("closing without a reason: %v", err)
	}
	if err := CheckTransition(JobSearch, "retired", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown phase: %v", err)
	}
}

func FuzzIdentityCheck(f *testing.F) {
	f.Add("Anna", "Vries", "1990-02-03", "111222333")
	f.Add("", "", "2990-13-40", "123")
	f.Fuzz(func(t *testing.T, given, family, dob, bsn string) {
		err := Identity{GivenName: given, FamilyName: family, DateOfBirth: dob, BSN: bsn}.Check()
		if err == nil && bsn != "" && !ValidBSN(bsn) {
			t.Fatalf("accepted bad BSN %q", bsn)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}

func TestPhaseForJobs(t *testing.T) {
	for _, c := range []struct {
		cur    Phase
		active int
		to     Phase
		move   bool
	}{
		{JobSearch, 1, Employed, true}, {FollowAlong, 2, Employed, true}, {Employed, 1, Employed, false},
		{Employed, 0, JobSearch, true}, {FollowAlong, 0, JobSearch, true}, {JobSearch, 0, JobSearch, false},
		{Referral, 1, Referral, false}, {Intake, 1, Intake, false}, {Closed, 1, Closed, false}, {Closed, 0, Closed, false},
	} {
		to, reason, move := PhaseForJobs(c.cur, c.active)
		if to != c.to || move != c.move {
			t.Errorf("%s with %d active jobs: %s %v, want %s %v", c.cur, c.active, to, move, c.to, c.move)
		}
		if move {
			if err := CheckTransition(c.cur, to, reason); err != nil {
				t.Errorf("%s → %s is not an allowed transition: %v", c.cur, to, err)
			}
		}
	}
}
